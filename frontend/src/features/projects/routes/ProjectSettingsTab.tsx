// Project settings: public or private, description, host binds (administrators only), and deletion (refused by the API while repositories remain).
import { useState } from "react";
import { useNavigate } from "react-router";
import { Button, ConfirmDialog, ErrorMessage } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { useDeleteProject } from "../api/deleteProject";
import { useUpdateProject } from "../api/updateProject";
import { useProjectContext } from "../useProjectContext";

export default function ProjectSettingsTab() {
  const { project, access } = useProjectContext();
  const update = useUpdateProject(project.name);
  const remove = useDeleteProject();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const [description, setDescription] = useState(project.description ?? "");
  const canUpdate = access.can("project:update");
  const isAdmin = useSystemCapabilities().is_admin;
  return (
    <div className="stack">
      <section className="card stack" aria-labelledby="visibility-title">
        <h2 id="visibility-title">Access</h2>
        <label className="check">
          <input
            type="checkbox"
            checked={project.public ?? false}
            disabled={!canUpdate || update.isPending}
            onChange={(event) => update.mutate({ public: event.target.checked })}
          />
          Public: anyone, even without an account, may pull this project's images
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={project.allow_host_binds ?? false}
            disabled={!isAdmin || update.isPending}
            onChange={(event) => update.mutate({ allow_host_binds: event.target.checked })}
          />
          Host binds: deployments may mount paths of their host (/host/path:/path), which gives whoever may deploy here the host's files. Only administrators change this.
        </label>
        <div className="field">
          <label className="field-label" htmlFor="project-description">
            Description
          </label>
          <div className="row">
            <input id="project-description" style={{ flex: 1 }} maxLength={1024} disabled={!canUpdate} value={description} onChange={(e) => setDescription(e.target.value)} />
            <Button disabled={!canUpdate || description === (project.description ?? "")} busy={update.isPending} onClick={() => update.mutate({ description })}>
              Save
            </Button>
          </div>
        </div>
        {update.isSuccess ? (
          <div className="alert alert-success" role="status">
            Saved.
          </div>
        ) : null}
        {update.error ? <ErrorMessage error={update.error} /> : null}
      </section>
      {access.can("project:delete") ? (
        <section className="card stack" aria-labelledby="danger-title">
          <h2 id="danger-title">Delete this project</h2>
          <p className="muted">Its members and robot accounts go with it. A project that still holds repositories cannot be deleted: delete them first.</p>
          <div>
            <Button variant="danger" onClick={() => setConfirming(true)}>
              Delete project
            </Button>
          </div>
        </section>
      ) : null}
      <ConfirmDialog
        open={confirming}
        title={`Delete project ${project.name}?`}
        confirmLabel="Delete project"
        typeToConfirm={project.name}
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          await remove.mutateAsync(project.name);
          navigate("/projects", { replace: true });
        }}
      >
        <p>This cannot be undone.</p>
      </ConfirmDialog>
    </div>
  );
}
