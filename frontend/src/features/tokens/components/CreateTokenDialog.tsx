// Creates a personal token with an expiry and scopes, and shows its secret once.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { TokenCreate, TokenCreated } from "@/api/types";
import { useRegistryHost } from "@/features/system/api/getSystemInfo";
import { Button, Dialog, ErrorMessage, Field, SecretReveal } from "@/components/ui";
import { useCreateToken } from "../api/createToken";

const EXPIRIES = [
  { days: "7", label: "7 days" },
  { days: "30", label: "30 days" },
  { days: "90", label: "90 days" },
  { days: "365", label: "1 year" },
  { days: "never", label: "Never (if an administrator allows it)" },
];

type Scope = NonNullable<TokenCreate["scopes"]>[number];

// Each scope includes the lesser ones of its family (the API refuses what the token lacks by name).
export const SCOPES: { scope: Scope; label: string }[] = [
  { scope: "registry:read", label: "Pull images" },
  { scope: "registry:write", label: "Push and pull images (docker login)" },
  { scope: "api:read", label: "Read through the API" },
  { scope: "api:write", label: "Change things through the API (includes reading)" },
  { scope: "api:credentials", label: "Create or change credentials: users, passwords, robots, join tokens, project admins" },
];
const DEFAULT_SCOPES: Scope[] = ["registry:write"];

export function CreateTokenDialog({ open, onClose, username }: { open: boolean; onClose: () => void; username: string }) {
  const create = useCreateToken();
  const registryHost = useRegistryHost();
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("30");
  const [scopes, setScopes] = useState<Scope[]>(DEFAULT_SCOPES);
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const close = () => {
    setName("");
    setExpiry("30");
    setScopes(DEFAULT_SCOPES);
    setCreated(null);
    create.reset();
    onClose();
  };
  const toggle = (scope: Scope) => setScopes((held) => (held.includes(scope) ? held.filter((s) => s !== scope) : [...held, scope]));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name: name.trim(), expires_in_days: expiry === "never" ? null : Number(expiry), scopes }, { onSuccess: setCreated });
  };
  return (
    <Dialog open={open} title={created ? "Token created" : "New personal token"} onClose={close}>
      {created ? (
        <div className="stack">
          <SecretReveal secret={created.secret} name={created.name} usage={`Use it as the password: docker login -u ${username} ${registryHost}`} />
          <div className="form-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <Field label="Name" hint="What it is for, e.g. “laptop docker” or “CI deploy”." error={fields.name}>
            <input name="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} data-autofocus />
          </Field>
          <Field label="Expires after" error={fields.expires_in_days}>
            <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
              {EXPIRIES.map((option) => (
                <option key={option.days} value={option.days}>
                  {option.label}
                </option>
              ))}
            </select>
          </Field>
          <fieldset className="stack">
            <legend>Scopes</legend>
            {SCOPES.map(({ scope, label }) => (
              <label className="check" key={scope}>
                <input type="checkbox" checked={scopes.includes(scope)} onChange={() => toggle(scope)} />
                <code>{scope}</code> {label}
              </label>
            ))}
            {fields.scopes ? <div className="field-error">{fields.scopes}</div> : null}
          </fieldset>
          {create.error && Object.keys(fields).length === 0 ? <ErrorMessage error={create.error} /> : null}
          <div className="form-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={create.isPending} disabled={!name.trim() || scopes.length === 0}>
              Create token
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
