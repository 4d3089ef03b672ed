// Creates a robot with an explicit permission list and an expiry, then shows its secret once.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { RobotCreated, RobotPermission } from "@/api/types";
import { useRegistryHost } from "@/features/system/api/getSystemInfo";
import { Button, Dialog, ErrorMessage, Field, SecretReveal } from "@/components/ui";
import { useCreateRobot } from "../api/createRobot";
import { GRANTABLE, PRESETS, grantKey } from "./grantable";

export function CreateRobotDialog({ project, open, onClose }: { project?: string; open: boolean; onClose: () => void }) {
  const create = useCreateRobot(project);
  const registryHost = useRegistryHost();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [expiry, setExpiry] = useState("90");
  const [granted, setGranted] = useState<Set<string>>(new Set(["repository:pull"]));
  const [scope, setScope] = useState("*");
  const [created, setCreated] = useState<RobotCreated | null>(null);
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};

  const toggle = (key: string) =>
    setGranted((current) => {
      const next = new Set(current);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  const close = () => {
    setName("");
    setDescription("");
    setExpiry("90");
    setGranted(new Set(["repository:pull"]));
    setScope("*");
    setCreated(null);
    create.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const permissions = [...granted].map((key) => {
      const [resource, action] = key.split(":");
      const grant = { resource, action } as RobotPermission;
      return project ? grant : { ...grant, project: scope.trim() || "*" };
    });
    create.mutate(
      {
        name: name.trim(),
        description,
        expires_in_days: expiry === "never" ? null : Number(expiry),
        disabled: false,
        permissions,
      },
      { onSuccess: setCreated },
    );
  };
  return (
    <Dialog open={open} title={created ? "Robot account created" : "New robot account"} onClose={close} wide>
      {created ? (
        <div className="stack">
          <SecretReveal
            secret={created.secret}
            name={created.full_name}
            usage={`Sign in with: docker login -u '${created.full_name}' ${registryHost} — and paste the secret as the password.`}
          />
          <div className="form-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <Field label="Name" hint={project ? `Its full name will be robot$${project}+NAME.` : "Its full name will be robot$NAME."} error={fields.name}>
            <input name="name" required maxLength={255} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} data-autofocus />
          </Field>
          <Field label="Description" error={fields.description}>
            <input name="description" maxLength={1024} value={description} onChange={(e) => setDescription(e.target.value)} />
          </Field>
          <Field label="Expires after" error={fields.expires_in_days}>
            <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
              <option value="30">30 days</option>
              <option value="90">90 days</option>
              <option value="365">1 year</option>
              <option value="never">Never</option>
            </select>
          </Field>
          {project ? null : (
            <Field label="Projects" hint="A project name, or * for every project." error={fields.permissions}>
              <input value={scope} onChange={(e) => setScope(e.target.value)} />
            </Field>
          )}
          <fieldset>
            <legend>Permissions</legend>
            <div className="row" style={{ marginBottom: ".5rem" }}>
              {PRESETS.map((preset) => (
                <Button key={preset.label} size="sm" onClick={() => setGranted(new Set(preset.grants.map(grantKey)))}>
                  {preset.label}
                </Button>
              ))}
            </div>
            <div className="stack" style={{ gap: ".5rem" }}>
              {GRANTABLE.map((group) => (
                <div key={group.resource} className="row">
                  <strong className="small" style={{ width: "7rem" }}>
                    {group.label}
                  </strong>
                  {group.actions.map((action) => {
                    const key = `${group.resource}:${action}`;
                    return (
                      <label key={key} className="check small">
                        <input type="checkbox" checked={granted.has(key)} onChange={() => toggle(key)} aria-label={`${group.label} ${action}`} />
                        {action}
                      </label>
                    );
                  })}
                </div>
              ))}
            </div>
          </fieldset>
          {fields.permissions && project ? <div className="field-error">{fields.permissions}</div> : null}
          {create.error && Object.keys(fields).length === 0 ? <ErrorMessage error={create.error} /> : null}
          <div className="form-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={create.isPending} disabled={!name.trim() || granted.size === 0}>
              Create robot account
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
