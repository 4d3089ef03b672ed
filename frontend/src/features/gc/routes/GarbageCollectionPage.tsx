// Administration → Garbage collection: run now or dry run, stop, the schedule, and the history with freed bytes.
import { useEffect, useState } from "react";
import { ApiError } from "@/api/client";
import type { GCRun } from "@/api/types";
import { Badge, Button, EmptyState, ErrorMessage, ErrorState, Field, Loading, PageHeader, type Tone } from "@/components/ui";
import { formatBytes, formatDateTime } from "@/lib/format";
import { useGcRuns, useStartGcRun, useStopGcRun } from "../api/gcRuns";
import { useGcSchedule, useUpdateGcSchedule } from "../api/gcSchedule";

const STATUS_TONE: Record<string, Tone> = { succeeded: "success", failed: "danger", stopped: "warning", running: "info", pending: "neutral" };

type ProjectReport = Record<string, { manifests: number; blobs: number; bytes: number }>;

function Report({ run }: { run: GCRun }) {
  const rows = Object.entries((run.report ?? {}) as ProjectReport).sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) return <p className="muted">Nothing {run.dry_run ? "would be" : "was"} deleted.</p>;
  return (
    <table aria-label={`Report of run ${run.id}`}>
      <thead>
        <tr>
          <th>Project</th>
          <th className="num">Manifests</th>
          <th className="num">Blobs</th>
          <th className="num">Bytes</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([project, counts]) => (
          <tr key={project}>
            <td>{project || <span className="muted">(no project)</span>}</td>
            <td className="num">{counts.manifests}</td>
            <td className="num">{counts.blobs}</td>
            <td className="num">{formatBytes(counts.bytes)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RunNow() {
  const start = useStartGcRun();
  const stop = useStopGcRun();
  const [deleteUntagged, setDeleteUntagged] = useState(false);
  return (
    <section className="card stack" aria-labelledby="run-title">
      <h2 id="run-title">Run</h2>
      <p className="muted">Pushes and pulls go on while it runs. Blobs pushed within the grace window are always kept.</p>
      <label className="check">
        <input type="checkbox" checked={deleteUntagged} onChange={(e) => setDeleteUntagged(e.target.checked)} />
        Delete untagged artifacts too
      </label>
      <div className="row">
        <Button variant="primary" busy={start.isPending} onClick={() => start.mutate({ dry_run: false, delete_untagged: deleteUntagged })}>
          Run now
        </Button>
        <Button busy={start.isPending} onClick={() => start.mutate({ dry_run: true, delete_untagged: deleteUntagged })}>
          Dry run
        </Button>
        <Button variant="ghost" busy={stop.isPending} onClick={() => stop.mutate()}>
          Stop
        </Button>
      </div>
      {start.error ? <ErrorMessage error={start.error} /> : null}
      {stop.error ? <ErrorMessage error={stop.error} /> : null}
    </section>
  );
}

function Schedule() {
  const schedule = useGcSchedule();
  const save = useUpdateGcSchedule();
  const [cron, setCron] = useState("");
  const [deleteUntagged, setDeleteUntagged] = useState(false);
  useEffect(() => {
    if (schedule.data) {
      setCron(schedule.data.cron);
      setDeleteUntagged(schedule.data.delete_untagged ?? false);
    }
  }, [schedule.data]);
  if (schedule.isPending) return <Loading label="Loading the schedule…" />;
  if (schedule.isError) return <ErrorState error={schedule.error} onRetry={() => schedule.refetch()} />;
  const error = save.error instanceof ApiError ? save.error.message : undefined;
  return (
    <section className="card stack" aria-labelledby="schedule-title">
      <h2 id="schedule-title">Schedule</h2>
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ cron, delete_untagged: deleteUntagged });
        }}
      >
        <Field label="Cron expression" hint="minute hour day month weekday, e.g. 0 3 * * 6; empty for no schedule." error={error}>
          <input value={cron} onChange={(e) => setCron(e.target.value)} placeholder="0 3 * * 6" />
        </Field>
        <label className="check">
          <input type="checkbox" checked={deleteUntagged} onChange={(e) => setDeleteUntagged(e.target.checked)} />
          Scheduled runs delete untagged artifacts
        </label>
        <div className="row">
          <Button type="submit" busy={save.isPending}>
            Save schedule
          </Button>
          {save.isSuccess ? <span role="status">Saved.</span> : null}
        </div>
      </form>
    </section>
  );
}

function History() {
  const runs = useGcRuns();
  const [open, setOpen] = useState<number | null>(null);
  if (runs.isPending) return <Loading label="Loading runs…" />;
  if (runs.isError) return <ErrorState error={runs.error} onRetry={() => runs.refetch()} />;
  const rows = runs.data.results;
  return (
    <section className="card stack" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {rows.length === 0 ? (
        <EmptyState title="No runs yet" />
      ) : (
        <table aria-label="Garbage collection runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Status</th>
              <th>Started</th>
              <th>Finished</th>
              <th>By</th>
              <th className="num">Manifests</th>
              <th className="num">Blobs</th>
              <th className="num">Freed</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.flatMap((run) => [
              <tr key={run.id}>
                <td>
                  #{run.id} {run.dry_run ? <Badge>dry run</Badge> : null}
                </td>
                <td>
                  <Badge tone={STATUS_TONE[run.status] ?? "neutral"}>{run.status}</Badge>
                  {run.errors && (run.errors as string[]).length > 0 ? <div className="small muted">{(run.errors as string[])[0]}</div> : null}
                </td>
                <td className="small">{formatDateTime(run.started_at)}</td>
                <td className="small">{formatDateTime(run.finished_at)}</td>
                <td className="small">{run.requested_by}</td>
                <td className="num">{run.manifests_deleted}</td>
                <td className="num">{run.blobs_deleted}</td>
                <td className="num">{formatBytes(run.bytes_freed)}</td>
                <td className="actions">
                  <Button size="sm" variant="ghost" onClick={() => setOpen(open === run.id ? null : run.id)}>
                    {open === run.id ? "Hide report" : "Report"}
                  </Button>
                </td>
              </tr>,
              open === run.id ? (
                <tr key={`${run.id}-report`}>
                  <td colSpan={9}>
                    <Report run={run} />
                  </td>
                </tr>
              ) : null,
            ])}
          </tbody>
        </table>
      )}
    </section>
  );
}

export default function GarbageCollectionPage() {
  return (
    <>
      <PageHeader title="Garbage collection">
        <p className="muted">Reclaims the storage of blobs and manifests nothing uses any more, without a read-only window.</p>
      </PageHeader>
      <div className="stack">
        <RunNow />
        <Schedule />
        <History />
      </div>
    </>
  );
}
