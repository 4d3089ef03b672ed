// Runs an artifact on a host: image, name, host, environment (plain and secret), ports, volumes, limits and restart policy.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { Deploy } from "@/api/types";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useDeployContainer } from "../api/containers";

const lines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

// NAME=value lines as an object; the value is everything after the first "=".
const variables = (text: string) =>
  Object.fromEntries(
    lines(text).map((line) => {
      const at = line.indexOf("=");
      return at < 0 ? [line, ""] : [line.slice(0, at), line.slice(at + 1)];
    }),
  );

export function RunContainerDialog({ project, open, onClose, repository = "", reference = "latest" }: { project: string; open: boolean; onClose: () => void; repository?: string; reference?: string }) {
  const deploy = useDeployContainer(project);
  const [form, setForm] = useState({ repository, reference, name: "", host: "", env: "", secretEnv: "", ports: "", volumes: "", memory: "", cpus: "", restart: "no", health: "" });
  const fields = deploy.error instanceof ApiError ? deploy.error.fieldErrors() : {};
  const set = (key: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) =>
    setForm((current) => ({ ...current, [key]: event.target.value }));
  const close = () => {
    deploy.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const request: Deploy = { repository: form.repository.trim(), reference: form.reference.trim() || "latest", restart: form.restart };
    if (form.name.trim()) request.name = form.name.trim();
    if (form.host.trim()) request.host = form.host.trim();
    if (form.env.trim()) request.env = lines(form.env);
    if (form.secretEnv.trim()) request.secret_env = variables(form.secretEnv);
    if (form.ports.trim()) request.ports = lines(form.ports);
    if (form.volumes.trim()) request.volumes = lines(form.volumes);
    if (form.memory.trim()) request.memory = form.memory.trim();
    if (form.cpus.trim()) request.cpus = Number(form.cpus);
    if (form.health.trim()) request.healthcheck = { cmd: form.health.trim() };
    deploy.mutate(request, { onSuccess: close });
  };
  return (
    <Dialog open={open} title="Run a container" onClose={close} wide>
      <form className="stack" onSubmit={submit}>
        <div className="form-grid">
          <Field label="Repository" hint={`Inside ${project}, e.g. team/app.`} error={fields.repository}>
            <input required value={form.repository} onChange={set("repository")} data-autofocus />
          </Field>
          <Field label="Tag or digest" error={fields.reference}>
            <input required value={form.reference} onChange={set("reference")} />
          </Field>
          <Field label="Container name" hint="Optional; one is made up when empty." error={fields.name}>
            <input value={form.name} onChange={set("name")} />
          </Field>
          <Field label="Host" hint="Optional; Berth picks one with room when empty." error={fields.host}>
            <input value={form.host} onChange={set("host")} />
          </Field>
        </div>
        <Field label="Environment" hint="One NAME=value per line." error={fields.env}>
          <textarea value={form.env} onChange={set("env")} rows={3} spellCheck={false} />
        </Field>
        <Field label="Secret environment" hint="One NAME=value per line: stored encrypted, passed only to the host, never shown again." error={fields.secret_env}>
          <textarea value={form.secretEnv} onChange={set("secretEnv")} rows={2} spellCheck={false} autoComplete="off" />
        </Field>
        <div className="form-grid">
          <Field label="Ports" hint="One [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp] per line." error={fields.ports}>
            <textarea value={form.ports} onChange={set("ports")} rows={2} spellCheck={false} />
          </Field>
          <Field label="Volumes" hint="One NAME:/path[:ro] per line." error={fields.volumes}>
            <textarea value={form.volumes} onChange={set("volumes")} rows={2} spellCheck={false} />
          </Field>
          <Field label="Memory limit" hint="e.g. 256m or 1g; empty for none." error={fields.memory}>
            <input value={form.memory} onChange={set("memory")} />
          </Field>
          <Field label="CPUs" hint="e.g. 0.5; empty for no limit." error={fields.cpus}>
            <input type="number" min={0} step={0.1} value={form.cpus} onChange={set("cpus")} />
          </Field>
          <Field label="Health check" hint="A shell command that succeeds while the container is healthy; empty for the image's." error={fields.healthcheck}>
            <input value={form.health} onChange={set("health")} spellCheck={false} />
          </Field>
          <Field label="Restart policy" error={fields.restart}>
            <select value={form.restart} onChange={set("restart")}>
              <option value="no">Never</option>
              <option value="on-failure">On failure</option>
              <option value="unless-stopped">Unless stopped</option>
              <option value="always">Always</option>
            </select>
          </Field>
        </div>
        {deploy.error ? <ErrorMessage error={deploy.error} /> : null}
        <div className="form-actions">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={deploy.isPending} disabled={!form.repository.trim()}>
            Run
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
