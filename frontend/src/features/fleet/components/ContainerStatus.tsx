// A container's status, with a progress bar while its image is pulled.
import type { Container } from "@/api/types";
import { Badge, type Tone } from "@/components/ui";
import { formatBytes } from "@/lib/format";

const TONE: Record<string, Tone> = {
  running: "success",
  pending: "info",
  pulling: "info",
  creating: "info",
  restarting: "warning",
  stopping: "warning",
  removing: "warning",
  exited: "neutral",
  failed: "danger",
};

// The health check's verdict, shown beside "running" as `docker ps` shows it.
const HEALTH_TONE: Record<string, Tone> = { healthy: "success", unhealthy: "danger", starting: "info" };

interface Progress {
  bytes_done?: number;
  bytes_total?: number;
}

export function ContainerStatus({ container }: { container: Container }) {
  const status = container.status ?? "pending";
  const progress = (container.progress ?? {}) as Progress;
  const total = progress.bytes_total ?? 0;
  const done = progress.bytes_done ?? 0;
  return (
    <span className="stack" style={{ gap: ".2rem" }}>
      <span>
        <Badge tone={TONE[status] ?? "neutral"}>{status}</Badge>
        {status === "exited" && container.exit_code !== null && container.exit_code !== undefined ? <span className="muted small"> exit {container.exit_code}</span> : null}
        {container.oom_killed ? <span className="muted small"> out of memory</span> : null}
        {status === "running" && container.health ? (
          <>
            {" "}
            <Badge tone={HEALTH_TONE[container.health] ?? "neutral"}>{container.health === "starting" ? "health: starting" : container.health}</Badge>
          </>
        ) : null}
      </span>
      {status === "pulling" && total > 0 ? (
        <span className="small">
          <progress max={total} value={done} aria-label={`Pulling ${container.name}`} /> {formatBytes(done)} / {formatBytes(total)}
        </span>
      ) : null}
      {container.error ? <span className="field-error">{container.error}</span> : null}
    </span>
  );
}
