// The audit log as a filterable, server-paged table, shared by the project tab and the global page.
import { useState } from "react";
import { Badge, EmptyState, ErrorState, Loading, Pagination, SearchInput, SortHeader, type Tone } from "@/components/ui";
import { formatDateTime } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useAuditLog } from "../api/listAuditLog";

const OUTCOME_TONE: Record<string, Tone> = { success: "success", failure: "danger", denied: "warning" };

export function AuditTable({ project }: { project?: string }) {
  const [state, update] = useListParams({ sort: "-time" });
  const [outcome, setOutcome] = useState("");
  const [action, setAction] = useState("");
  const log = useAuditLog(project, { actor: state.q || undefined, outcome, action, sort: state.sort, page: state.page, page_size: state.pageSize });

  let body;
  if (log.isPending) body = <Loading label="Loading the audit log…" />;
  else if (log.isError) body = <ErrorState error={log.error} onRetry={() => log.refetch()} />;
  else if (log.data.count === 0)
    body = <EmptyState title="No matching entries">Every write and every failed sign-in is recorded here. Change the filters to see more.</EmptyState>;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <SortHeader field="time" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Time
                </SortHeader>
                <SortHeader field="actor" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Who
                </SortHeader>
                <SortHeader field="action" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Action
                </SortHeader>
                <th scope="col">Resource</th>
                {project ? null : <th scope="col">Project</th>}
                <SortHeader field="outcome" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Outcome
                </SortHeader>
                <th scope="col" className="hide-phone">
                  From
                </th>
              </tr>
            </thead>
            <tbody>
              {log.data.results.map((entry) => (
                <tr key={entry.id}>
                  <td title={entry.time}>{formatDateTime(entry.time)}</td>
                  <td>{entry.actor}</td>
                  <td>{entry.action}</td>
                  <td>
                    <span className="muted">{entry.resource_type}</span> {entry.resource}
                  </td>
                  {project ? null : <td>{entry.project || <span className="muted">—</span>}</td>}
                  <td>
                    <Badge tone={OUTCOME_TONE[entry.outcome ?? ""] ?? "neutral"}>{entry.outcome}</Badge>
                  </td>
                  <td className="hide-phone muted">{entry.source_ip ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={log.data.count} noun="entries" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );

  return (
    <>
      <div className="toolbar">
        <SearchInput label="Filter by who (exact name)" value={state.q} onSearch={(q) => update({ q })} />
        <input aria-label="Filter by action" placeholder="Action, e.g. push" value={action} onChange={(e) => { setAction(e.target.value.trim()); update({ page: 1 }); }} />
        <select aria-label="Filter by outcome" value={outcome} onChange={(e) => { setOutcome(e.target.value); update({ page: 1 }); }}>
          <option value="">Any outcome</option>
          <option value="success">Success</option>
          <option value="failure">Failure</option>
          <option value="denied">Denied</option>
        </select>
      </div>
      {body}
    </>
  );
}
