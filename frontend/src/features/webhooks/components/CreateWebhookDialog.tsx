// Creates a webhook policy: target, payload format, optional secret and auth header, and its event types.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { WebhookEventType, WebhookPolicyCreate } from "@/api/types";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useCreateWebhook } from "../api/createWebhook";
import { eventGroupsFor } from "./eventTypes";

const DEFAULT_EVENTS: WebhookEventType[] = ["artifact.pushed"];

export function CreateWebhookDialog({ project, open, onClose }: { project?: string; open: boolean; onClose: () => void }) {
  const create = useCreateWebhook(project);
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [format, setFormat] = useState<WebhookPolicyCreate["payload_format"]>("default");
  const [verifyTls, setVerifyTls] = useState(true);
  const [secret, setSecret] = useState("");
  const [authHeader, setAuthHeader] = useState("");
  const [events, setEvents] = useState<Set<WebhookEventType>>(new Set(DEFAULT_EVENTS));
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};

  const toggle = (type: WebhookEventType) =>
    setEvents((current) => {
      const next = new Set(current);
      if (next.has(type)) next.delete(type);
      else next.add(type);
      return next;
    });
  const close = () => {
    setName("");
    setUrl("");
    setFormat("default");
    setVerifyTls(true);
    setSecret("");
    setAuthHeader("");
    setEvents(new Set(DEFAULT_EVENTS));
    create.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const policy: WebhookPolicyCreate = { name: name.trim(), target_url: url.trim(), payload_format: format, verify_tls: verifyTls, event_types: [...events] };
    if (secret) policy.secret = secret;
    if (authHeader) policy.auth_header = authHeader;
    create.mutate(policy, { onSuccess: close });
  };
  return (
    <Dialog open={open} title="New webhook" onClose={close} wide>
      <form className="stack" onSubmit={submit}>
        <Field label="Name" error={fields.name}>
          <input name="name" required maxLength={255} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} data-autofocus />
        </Field>
        <Field label="Target URL" hint="http:// or https://; redirects are not followed." error={fields.target_url}>
          <input name="target_url" required type="url" value={url} onChange={(e) => setUrl(e.target.value)} />
        </Field>
        <Field label="Payload format" error={fields.payload_format}>
          <select value={format} onChange={(e) => setFormat(e.target.value as WebhookPolicyCreate["payload_format"])}>
            <option value="default">Default (Harbor-compatible JSON)</option>
            <option value="cloudevents">CloudEvents 1.0 (structured JSON)</option>
          </select>
        </Field>
        <label className="check small">
          <input type="checkbox" checked={verifyTls} onChange={(e) => setVerifyTls(e.target.checked)} />
          Verify the target's TLS certificate
        </label>
        <Field label="Secret" hint="Signs each body (the Berth-Signature header); stored encrypted, never shown again." error={fields.secret}>
          <input name="secret" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} />
        </Field>
        <Field label="Auth header" hint="Sent as Authorization, e.g. Bearer …; stored encrypted, never shown again." error={fields.auth_header}>
          <input name="auth_header" type="password" autoComplete="off" value={authHeader} onChange={(e) => setAuthHeader(e.target.value)} />
        </Field>
        <fieldset>
          <legend>Events</legend>
          <div className="stack" style={{ gap: ".5rem" }}>
            {eventGroupsFor(project).map((group) => (
              <div key={group.label} className="row">
                <strong className="small" style={{ width: "7rem" }}>
                  {group.label}
                </strong>
                {group.types.map(({ type, label }) => (
                  <label key={type} className="check small">
                    <input type="checkbox" checked={events.has(type)} onChange={() => toggle(type)} aria-label={type} />
                    {label}
                  </label>
                ))}
              </div>
            ))}
          </div>
        </fieldset>
        {fields.event_types ? <div className="field-error">{fields.event_types}</div> : null}
        {create.error && Object.keys(fields).length === 0 ? <ErrorMessage error={create.error} /> : null}
        <div className="form-actions">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending} disabled={!name.trim() || !url.trim() || events.size === 0}>
            Create webhook
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
