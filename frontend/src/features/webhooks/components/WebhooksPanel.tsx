// Webhook policies of a project or of the system: create, test, enable or disable, resume, delete, and the delivery log.
import { useState } from "react";
import type { WebhookPolicy } from "@/api/types";
import { Badge, Button, ConfirmDialog, Dialog, EmptyState, ErrorMessage, ErrorState, Loading, Pagination } from "@/components/ui";
import { useListParams } from "@/lib/useListParams";
import { useDeleteWebhook } from "../api/deleteWebhook";
import { useWebhooks } from "../api/listWebhooks";
import { useResumeWebhook } from "../api/resumeWebhook";
import { useTestWebhook } from "../api/testWebhook";
import { useUpdateWebhook } from "../api/updateWebhook";
import { CreateWebhookDialog } from "./CreateWebhookDialog";
import { DeliveryLog } from "./DeliveryLog";

function status(policy: WebhookPolicy) {
  if (policy.paused) return <Badge tone="danger">Paused</Badge>;
  return policy.enabled ? <Badge tone="success">Enabled</Badge> : <Badge>Disabled</Badge>;
}

export function WebhooksPanel({ project, canCreate, canUpdate, canDelete }: { project?: string; canCreate: boolean; canUpdate: boolean; canDelete: boolean }) {
  const [state, update] = useListParams({ sort: "name" });
  const policies = useWebhooks(project, { name: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const change = useUpdateWebhook(project);
  const test = useTestWebhook(project);
  const resume = useResumeWebhook(project);
  const remove = useDeleteWebhook(project);
  const [creating, setCreating] = useState(false);
  const [logOf, setLogOf] = useState<WebhookPolicy | null>(null);
  const [deleting, setDeleting] = useState<WebhookPolicy | null>(null);
  const [tested, setTested] = useState<string | null>(null);
  const failure = change.error ?? test.error ?? resume.error;

  let body;
  if (policies.isPending) body = <Loading label="Loading webhooks…" />;
  else if (policies.isError) body = <ErrorState error={policies.error} onRetry={() => policies.refetch()} />;
  else if (policies.data.count === 0)
    body = (
      <EmptyState title="No webhooks" action={canCreate ? <Button variant="primary" onClick={() => setCreating(true)}>Create a webhook</Button> : null}>
        Webhooks tell CI pipelines, chat rooms and deployment tools when images are pushed or containers change.
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table aria-label="Webhooks">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Target</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {policies.data.results.map((policy) => (
                <tr key={policy.id}>
                  <td>
                    <strong>{policy.name}</strong>
                    <div className="muted small">
                      {policy.payload_format === "cloudevents" ? "CloudEvents" : "Default"}
                      {policy.has_secret ? " · signed" : ""}
                    </div>
                  </td>
                  <td className="small">
                    <code>{policy.target_url}</code>
                  </td>
                  <td className="small">{policy.event_types.join(", ")}</td>
                  <td>
                    {status(policy)}
                    {policy.paused ? <div className="muted small">{policy.paused_reason}</div> : null}
                  </td>
                  <td className="actions">
                    <Button size="sm" variant="ghost" onClick={() => setLogOf(policy)} aria-label={`Deliveries of ${policy.name}`}>
                      Deliveries
                    </Button>
                    {canUpdate ? (
                      <>
                        {policy.paused ? (
                          <Button size="sm" variant="ghost" onClick={() => resume.mutate(policy.id)}>
                            Resume
                          </Button>
                        ) : (
                          <Button size="sm" variant="ghost" onClick={() => test.mutate(policy.id, { onSuccess: () => setTested(policy.name) })} aria-label={`Send a test event to ${policy.name}`}>
                            Test
                          </Button>
                        )}
                        <Button size="sm" variant="ghost" onClick={() => change.mutate({ policy: policy.id, changes: { enabled: !policy.enabled } })}>
                          {policy.enabled ? "Disable" : "Enable"}
                        </Button>
                      </>
                    ) : null}
                    {canDelete ? (
                      <Button size="sm" variant="ghost" onClick={() => setDeleting(policy)} aria-label={`Delete ${policy.name}`}>
                        Delete
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={policies.data.count} noun="webhooks" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );

  return (
    <>
      <div className="toolbar">
        <span className="spacer" />
        {canCreate ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            New webhook
          </Button>
        ) : null}
      </div>
      {failure ? <ErrorMessage error={failure} /> : null}
      {tested ? <p role="status" className="muted small">A test event to {tested} is queued: see its deliveries.</p> : null}
      {body}
      <CreateWebhookDialog project={project} open={creating} onClose={() => setCreating(false)} />
      <Dialog open={logOf !== null} title={`Deliveries of ${logOf?.name ?? ""}`} onClose={() => setLogOf(null)} wide>
        {logOf ? <DeliveryLog project={project} policy={logOf} canRedeliver={canUpdate} /> : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? ""}?`}
        confirmLabel="Delete webhook"
        onClose={() => setDeleting(null)}
        onConfirm={() => remove.mutateAsync(deleting!.id)}
      >
        <p>Its target hears nothing more from Berth, and its delivery log is deleted.</p>
      </ConfirmDialog>
    </>
  );
}
