// Robot accounts of a project or of the system: create, refresh the secret, enable or disable, delete.
import { useState } from "react";
import type { Robot } from "@/api/types";
import { Badge, Button, ConfirmDialog, Dialog, EmptyState, ErrorMessage, ErrorState, Loading, Pagination, SearchInput, SecretReveal } from "@/components/ui";
import { formatDateTime } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useDeleteRobot } from "../api/deleteRobot";
import { useRefreshRobotSecret } from "../api/refreshRobotSecret";
import { useRobots } from "../api/listRobots";
import { useUpdateRobot } from "../api/updateRobot";
import { CreateRobotDialog } from "./CreateRobotDialog";

function permissionSummary(robot: Robot): string {
  const grants = robot.permissions.map((grant) => `${grant.project && grant.project !== robot.project ? `${grant.project}: ` : ""}${grant.resource}:${grant.action}`);
  return grants.length > 4 ? `${grants.slice(0, 4).join(", ")} +${grants.length - 4}` : grants.join(", ");
}

export function RobotsPanel({ project, canCreate, canUpdate, canDelete }: { project?: string; canCreate: boolean; canUpdate: boolean; canDelete: boolean }) {
  const [state, update] = useListParams({ sort: "name" });
  const robots = useRobots(project, { name: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const change = useUpdateRobot(project);
  const refresh = useRefreshRobotSecret(project);
  const remove = useDeleteRobot(project);
  const [creating, setCreating] = useState(false);
  const [refreshing, setRefreshing] = useState<Robot | null>(null);
  const [deleting, setDeleting] = useState<Robot | null>(null);
  const [newSecret, setNewSecret] = useState<{ robot: Robot; secret: string } | null>(null);

  let body;
  if (robots.isPending) body = <Loading label="Loading robot accounts…" />;
  else if (robots.isError) body = <ErrorState error={robots.error} onRetry={() => robots.refetch()} />;
  else if (robots.data.count === 0)
    body = (
      <EmptyState title={state.q ? `No robot matches “${state.q}”` : "No robot accounts"} action={canCreate && !state.q ? <Button variant="primary" onClick={() => setCreating(true)}>Create a robot account</Button> : null}>
        Robot accounts let CI jobs and servers push or pull with only the permissions they need.
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Status</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {robots.data.results.map((robot) => (
                <tr key={robot.id}>
                  <td>
                    <code>{robot.full_name}</code>
                    {robot.description ? <div className="muted small">{robot.description}</div> : null}
                  </td>
                  <td className="small">{permissionSummary(robot)}</td>
                  <td>{robot.disabled ? <Badge tone="danger">Disabled</Badge> : robot.expired ? <Badge tone="warning">Expired</Badge> : <Badge tone="success">Active</Badge>}</td>
                  <td>{robot.expires_at ? formatDateTime(robot.expires_at) : "Never"}</td>
                  <td className="actions">
                    {canUpdate ? (
                      <>
                        <Button size="sm" variant="ghost" onClick={() => setRefreshing(robot)} aria-label={`Refresh the secret of ${robot.full_name}`}>
                          Refresh secret
                        </Button>
                        <Button size="sm" variant="ghost" onClick={() => change.mutate({ robot: robot.name, changes: { disabled: !robot.disabled } })}>
                          {robot.disabled ? "Enable" : "Disable"}
                        </Button>
                      </>
                    ) : null}
                    {canDelete ? (
                      <Button size="sm" variant="ghost" onClick={() => setDeleting(robot)} aria-label={`Delete ${robot.full_name}`}>
                        Delete
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={robots.data.count} noun="robot accounts" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );

  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search robot accounts" value={state.q} onSearch={(q) => update({ q })} />
        <span className="spacer" />
        {canCreate ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            New robot account
          </Button>
        ) : null}
      </div>
      {change.error ? <ErrorMessage error={change.error} /> : null}
      {body}
      <CreateRobotDialog project={project} open={creating} onClose={() => setCreating(false)} />
      <ConfirmDialog
        open={refreshing !== null}
        title={`Refresh the secret of ${refreshing?.full_name ?? ""}?`}
        confirmLabel="Refresh secret"
        onClose={() => setRefreshing(null)}
        onConfirm={async () => {
          const robot = refreshing!;
          const result = await refresh.mutateAsync(robot.name);
          setNewSecret({ robot, secret: result.secret });
        }}
      >
        <p>The current secret stops working at once; whatever uses it must be given the new one.</p>
      </ConfirmDialog>
      <Dialog open={newSecret !== null} title="New secret" onClose={() => setNewSecret(null)}>
        {newSecret ? <SecretReveal secret={newSecret.secret} name={newSecret.robot.full_name} /> : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.full_name ?? ""}?`}
        confirmLabel="Delete robot account"
        onClose={() => setDeleting(null)}
        onConfirm={() => remove.mutateAsync(deleting!.name)}
      >
        <p>Anything signing in as this robot will be refused.</p>
      </ConfirmDialog>
    </>
  );
}
