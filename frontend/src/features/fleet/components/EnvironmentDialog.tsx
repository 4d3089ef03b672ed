// A container's environment as the API shows it to the caller: secret values never, others only to deployers.
import type { Container } from "@/api/types";
import { Badge, Dialog } from "@/components/ui";

export function EnvironmentDialog({ container, onClose }: { container: Container | null; onClose: () => void }) {
  const env = container?.env ?? [];
  const hidden = env.some((variable) => !variable.secret && variable.value === null);
  return (
    <Dialog open={container !== null} title={`Environment of ${container?.name ?? ""}`} onClose={onClose} wide>
      {env.length === 0 ? (
        <p className="muted">No environment variables were set.</p>
      ) : (
        <dl className="details" data-testid="environment">
          {env.map((variable) => (
            <div key={variable.name} style={{ display: "contents" }}>
              <dt>
                <code>{variable.name}</code>
              </dt>
              <dd>
                {variable.secret ? (
                  <Badge tone="info">secret, not shown</Badge>
                ) : variable.value === null ? (
                  <span className="muted">hidden</span>
                ) : (
                  <code>{variable.value}</code>
                )}
              </dd>
            </div>
          ))}
        </dl>
      )}
      {hidden ? <p className="muted small">Values are shown to those who may deploy in this project.</p> : null}
    </Dialog>
  );
}
