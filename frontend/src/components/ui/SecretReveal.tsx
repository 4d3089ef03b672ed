// A secret shown exactly once, with a copy button and a plain warning that it will not be shown again.
import { CopyButton } from "./CopyButton";

export function SecretReveal({ secret, name, usage }: { secret: string; name?: string; usage?: string }) {
  return (
    <div className="stack">
      <div className="alert alert-warning" role="status">
        Copy this secret now: Berth keeps only its hash and cannot show it again.
      </div>
      {name ? (
        <div>
          Name: <code>{name}</code>
        </div>
      ) : null}
      <div className="secret-box">
        <code data-testid="secret">{secret}</code>
        <CopyButton text={secret} label="Copy secret" />
      </div>
      {usage ? <p className="muted small">{usage}</p> : null}
    </div>
  );
}
