// A policy's delivery log: each event sent, its attempts, what was sent and answered; redeliver one.
import { Fragment, useState } from "react";
import type { WebhookDelivery, WebhookPolicy } from "@/api/types";
import { Badge, Button, EmptyState, ErrorMessage, ErrorState, Loading, Pagination } from "@/components/ui";
import { formatDateTime } from "@/lib/format";
import { useDeliveries } from "../api/listDeliveries";
import { useRedeliver } from "../api/redeliver";

const TONES = { delivered: "success", failed: "danger", pending: "warning" } as const;

function DeliveryDetail({ delivery }: { delivery: WebhookDelivery }) {
  return (
    <div className="stack small">
      <div>
        Attempts: {delivery.attempt_times.map((time) => formatDateTime(time)).join(", ") || "none yet"}
        {delivery.status === "pending" && delivery.attempts > 0 ? ` · next at ${formatDateTime(delivery.next_attempt_at)}` : null}
      </div>
      {delivery.error ? <div className="field-error">{delivery.error}</div> : null}
      <strong>Request headers</strong>
      <pre className="wrap-code">{Object.entries(delivery.request_headers).map(([name, value]) => `${name}: ${value}`).join("\n")}</pre>
      <strong>Request body</strong>
      <pre className="wrap-code">{delivery.request_body}</pre>
      <strong>Response {delivery.response_status ?? ""}</strong>
      <pre className="wrap-code">{delivery.response_body || "(empty)"}</pre>
    </div>
  );
}

export function DeliveryLog({ project, policy, canRedeliver }: { project?: string; policy: WebhookPolicy; canRedeliver: boolean }) {
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [open, setOpen] = useState<number | null>(null);
  const deliveries = useDeliveries(project, policy.id, { page, page_size: pageSize });
  const again = useRedeliver(project, policy.id);
  if (deliveries.isPending) return <Loading label="Loading deliveries…" />;
  if (deliveries.isError) return <ErrorState error={deliveries.error} onRetry={() => deliveries.refetch()} />;
  if (deliveries.data.count === 0) return <EmptyState title="No deliveries yet">Events this policy listens to appear here once they happen.</EmptyState>;
  return (
    <>
      {again.error ? <ErrorMessage error={again.error} /> : null}
      <div className="table-wrap">
        <table aria-label="Deliveries">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Response</th>
              <th scope="col">Latency</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {deliveries.data.results.map((delivery) => (
              <Fragment key={delivery.id}>
                <tr>
                  <td>
                    <code>{delivery.event.type}</code>
                    <div className="muted small">
                      {delivery.event.subject} · {formatDateTime(delivery.event.occurred_at)}
                    </div>
                  </td>
                  <td>
                    <Badge tone={TONES[delivery.status]}>{delivery.status}</Badge>
                  </td>
                  <td>{delivery.attempts}</td>
                  <td>{delivery.response_status ?? "—"}</td>
                  <td>{delivery.latency_ms != null ? `${Math.round(delivery.latency_ms)} ms` : "—"}</td>
                  <td className="actions">
                    <Button size="sm" variant="ghost" onClick={() => setOpen(open === delivery.id ? null : delivery.id)} aria-expanded={open === delivery.id}>
                      {open === delivery.id ? "Hide" : "Details"}
                    </Button>
                    {canRedeliver ? (
                      <Button size="sm" variant="ghost" busy={again.isPending && again.variables === delivery.id} onClick={() => again.mutate(delivery.id)} aria-label={`Redeliver delivery ${delivery.id}`}>
                        Redeliver
                      </Button>
                    ) : null}
                  </td>
                </tr>
                {open === delivery.id ? (
                  <tr>
                    <td colSpan={6}>
                      <DeliveryDetail delivery={delivery} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <Pagination page={page} pageSize={pageSize} count={deliveries.data.count} noun="deliveries" onPage={setPage} onPageSize={setPageSize} />
    </>
  );
}
