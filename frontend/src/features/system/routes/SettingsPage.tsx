// System settings: read-only mode, who may create projects, registry token lifetime.
import { useEffect, useState } from "react";
import { ApiError } from "@/api/client";
import { Button, ErrorMessage, ErrorState, Field, Loading, PageHeader } from "@/components/ui";
import { formatDateTime } from "@/lib/format";
import { useSystemSettings } from "../api/getSystemSettings";
import { useUpdateSystemSettings } from "../api/updateSystemSettings";

export default function SettingsPage() {
  const settings = useSystemSettings();
  const save = useUpdateSystemSettings();
  const [minutes, setMinutes] = useState("");
  useEffect(() => {
    if (settings.data) setMinutes(String(Math.round((settings.data.registry_token_lifetime_seconds ?? 1800) / 60)));
  }, [settings.data]);
  if (settings.isPending) return <Loading label="Loading settings…" />;
  if (settings.isError) return <ErrorState error={settings.error} onRetry={() => settings.refetch()} />;
  const data = settings.data;
  const fields = save.error instanceof ApiError ? save.error.fieldErrors() : {};
  return (
    <>
      <PageHeader title="Settings">
        <p className="muted">Changes apply at once to every Berth process. Last changed {formatDateTime(data.updated_at)}.</p>
      </PageHeader>
      <div className="stack">
        <section className="card stack" aria-labelledby="read-only-title">
          <h2 id="read-only-title">Read-only mode</h2>
          <label className="check">
            <input type="checkbox" checked={data.read_only ?? false} disabled={save.isPending} onChange={(e) => save.mutate({ read_only: e.target.checked })} />
            Refuse every push, delete and change (pulls and browsing go on) — for maintenance and backups
          </label>
          {data.read_only ? (
            <div className="alert alert-warning" role="status">
              Berth is read-only now.
            </div>
          ) : null}
        </section>
        <section className="card stack" aria-labelledby="projects-title">
          <h2 id="projects-title">Project creation</h2>
          <label className="check">
            <input
              type="checkbox"
              checked={data.project_creation_admin_only ?? false}
              disabled={save.isPending}
              onChange={(e) => save.mutate({ project_creation_admin_only: e.target.checked })}
            />
            Only administrators may create projects
          </label>
        </section>
        <section className="card stack" aria-labelledby="token-title">
          <h2 id="token-title">Registry tokens</h2>
          <form
            className="row"
            style={{ alignItems: "flex-end" }}
            onSubmit={(event) => {
              event.preventDefault();
              save.mutate({ registry_token_lifetime_seconds: Number(minutes) * 60 });
            }}
          >
            <Field label="Lifetime of a docker/podman token, in minutes" hint="From 1 minute to 24 hours." error={fields.registry_token_lifetime_seconds}>
              <input type="number" min={1} max={1440} required value={minutes} onChange={(e) => setMinutes(e.target.value)} />
            </Field>
            <Button type="submit" busy={save.isPending}>
              Save
            </Button>
          </form>
        </section>
        {save.error && Object.keys(fields).length === 0 ? <ErrorMessage error={save.error} /> : null}
      </div>
    </>
  );
}
