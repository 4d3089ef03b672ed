// The fleet's hosts: status, capacity and usage, draining; join tokens to enrol new hosts.
import { useState, type FormEvent } from "react";
import type { Host, JoinToken, JoinTokenCreated } from "@/api/types";
import { Badge, Button, ConfirmDialog, Dialog, EmptyState, ErrorMessage, ErrorState, Field, Loading, PageHeader, Pagination, SecretReveal, type Tone } from "@/components/ui";
import { formatBytes, formatDateTime, formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useHosts, useUpdateHost } from "../api/hosts";
import { useCreateJoinToken, useJoinTokens, useRevokeJoinToken } from "../api/joinTokens";

const STATUS_TONE: Record<string, Tone> = { online: "success", unreachable: "danger", draining: "warning" };

interface Capacity {
  cpus?: number;
  memory_bytes?: number;
  disk_bytes?: number;
}
interface Usage {
  memory_used_bytes?: number;
  disk_free_bytes?: number;
  containers_running?: number;
  load_1m?: number | null;
}

function Meter({ used, total }: { used: number; total: number }) {
  const share = total > 0 ? Math.min(1, used / total) : 0;
  return (
    <span className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share * 100)} aria-label="used">
      <span style={{ width: `${share * 100}%` }} />
    </span>
  );
}

function HostRow({ host }: { host: Host }) {
  const update = useUpdateHost();
  const capacity = host.capacity as Capacity;
  const usage = host.usage as Usage;
  const labels = Object.entries((host.labels ?? {}) as Record<string, string>);
  return (
    <tr>
      <td>
        {host.name}
        <div className="muted small">{host.address}</div>
      </td>
      <td>
        <Badge tone={STATUS_TONE[host.status] ?? "neutral"}>{host.status}</Badge>
        <div className="muted small">heartbeat {formatRelative(host.last_heartbeat_at)}</div>
      </td>
      <td className="small">
        {capacity.cpus ?? "?"} CPUs
        {usage.load_1m !== null && usage.load_1m !== undefined ? <span className="muted"> · load {Number(usage.load_1m).toFixed(2)}</span> : null}
      </td>
      <td className="small">
        <Meter used={usage.memory_used_bytes ?? 0} total={capacity.memory_bytes ?? 0} />
        {formatBytes(usage.memory_used_bytes ?? 0)} / {formatBytes(capacity.memory_bytes ?? 0)}
      </td>
      <td className="small hide-phone">
        {formatBytes(usage.disk_free_bytes ?? 0)} free of {formatBytes(capacity.disk_bytes ?? 0)}
      </td>
      <td className="num">{usage.containers_running ?? 0}</td>
      <td className="hide-phone">
        <span className="row" style={{ gap: ".25rem" }}>
          {labels.map(([key, value]) => (
            <Badge key={key}>
              {key}={value}
            </Badge>
          ))}
        </span>
      </td>
      <td className="actions">
        <Button size="sm" variant="ghost" busy={update.isPending} onClick={() => update.mutate({ name: host.name, changes: { draining: !host.draining } })}>
          {host.draining ? "Resume" : "Drain"}
        </Button>
      </td>
    </tr>
  );
}

function CreateJoinTokenDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const create = useCreateJoinToken();
  const [description, setDescription] = useState("");
  const [hours, setHours] = useState("24");
  const [uses, setUses] = useState("1");
  const [created, setCreated] = useState<JoinTokenCreated | null>(null);
  const close = () => {
    setDescription("");
    setCreated(null);
    create.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ description, expires_in_hours: Number(hours), max_uses: uses ? Number(uses) : null, labels: {} }, { onSuccess: setCreated });
  };
  return (
    <Dialog open={open} title={created ? "Join token created" : "New join token"} onClose={close}>
      {created ? (
        <div className="stack">
          <SecretReveal secret={created.token} usage={`On the new host, run the Berth agent with this token and ${window.location.origin} to join the fleet.`} />
          <div className="form-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <Field label="Description">
            <input value={description} onChange={(e) => setDescription(e.target.value)} data-autofocus />
          </Field>
          <Field label="Valid for (hours)">
            <input type="number" min={1} required value={hours} onChange={(e) => setHours(e.target.value)} />
          </Field>
          <Field label="Hosts that may use it" hint="Empty for any number.">
            <input type="number" min={1} value={uses} onChange={(e) => setUses(e.target.value)} />
          </Field>
          {create.error ? <ErrorMessage error={create.error} /> : null}
          <div className="form-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={create.isPending}>
              Create join token
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function JoinTokens() {
  const tokens = useJoinTokens({ page_size: 50 });
  const revoke = useRevokeJoinToken();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<JoinToken | null>(null);
  return (
    <section className="card stack" aria-labelledby="join-title">
      <div className="row">
        <h2 id="join-title">Join tokens</h2>
        <span className="spacer" />
        <Button variant="primary" onClick={() => setCreating(true)}>
          New join token
        </Button>
      </div>
      {tokens.isPending ? (
        <Loading />
      ) : tokens.isError ? (
        <ErrorState error={tokens.error} onRetry={() => tokens.refetch()} />
      ) : tokens.data.count === 0 ? (
        <p className="muted">No join tokens. Create one to enrol a host.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Description</th>
                <th scope="col">Starts with</th>
                <th scope="col">Uses</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.results.map((token) => (
                <tr key={token.id}>
                  <td>
                    {token.description || <span className="muted">—</span>} {token.usable ? null : <Badge tone="danger">{token.revoked ? "Revoked" : "Used up or expired"}</Badge>}
                  </td>
                  <td>
                    <code>{token.prefix}…</code>
                  </td>
                  <td>
                    {token.use_count ?? 0}
                    {token.max_uses ? ` / ${token.max_uses}` : ""}
                  </td>
                  <td>{formatDateTime(token.expires_at)}</td>
                  <td className="actions">
                    {token.usable ? (
                      <Button size="sm" variant="ghost" onClick={() => setRevoking(token)}>
                        Revoke
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateJoinTokenDialog open={creating} onClose={() => setCreating(false)} />
      <ConfirmDialog open={revoking !== null} title="Revoke this join token?" confirmLabel="Revoke" onClose={() => setRevoking(null)} onConfirm={() => revoke.mutateAsync(revoking!.id)}>
        <p>Hosts that already joined stay; no new host can join with it.</p>
      </ConfirmDialog>
    </section>
  );
}

export default function HostsPage() {
  const [state, update] = useListParams({ sort: "name" });
  const hosts = useHosts({ page: state.page, page_size: state.pageSize });
  return (
    <>
      <PageHeader title="Hosts">
        <p className="muted">Status comes from each host's heartbeat; this page refreshes every 10 seconds.</p>
      </PageHeader>
      <div className="stack">
        {hosts.isPending ? (
          <Loading label="Loading hosts…" />
        ) : hosts.isError ? (
          <ErrorState error={hosts.error} onRetry={() => hosts.refetch()} />
        ) : hosts.data.count === 0 ? (
          <EmptyState title="No hosts yet">Create a join token below and start the Berth agent on a machine with it.</EmptyState>
        ) : (
          <>
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Host</th>
                    <th scope="col">Status</th>
                    <th scope="col">CPU</th>
                    <th scope="col">Memory</th>
                    <th scope="col" className="hide-phone">
                      Disk
                    </th>
                    <th scope="col" className="num">
                      Containers
                    </th>
                    <th scope="col" className="hide-phone">
                      Labels
                    </th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {hosts.data.results.map((host) => (
                    <HostRow key={host.id} host={host} />
                  ))}
                </tbody>
              </table>
            </div>
            <Pagination page={state.page} pageSize={state.pageSize} count={hosts.data.count} noun="hosts" onPage={(page) => update({ page })} />
          </>
        )}
        <JoinTokens />
      </div>
    </>
  );
}
