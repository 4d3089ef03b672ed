// A container's logs, following new lines as they come, in a dialog.
import { useEffect, useRef, useState } from "react";
import type { Container } from "@/api/types";
import { Dialog } from "@/components/ui";
import { followLogs, type LogLine } from "../api/followLogs";

const MAX_LINES = 2000;

export function LogsDialog({ project, container, onClose }: { project: string; container: Container | null; onClose: () => void }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [ended, setEnded] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!container) return;
    setLines([]);
    setEnded(false);
    const controller = new AbortController();
    followLogs(project, container.name, (more) => setLines((current) => [...current, ...more].slice(-MAX_LINES)), controller.signal)
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setLines((current) => [...current, { error: { code: "network", message: String(error) } }]);
      })
      .finally(() => setEnded(true));
    return () => controller.abort();
  }, [project, container]);
  useEffect(() => bottom.current?.scrollIntoView?.({ block: "end" }), [lines]);
  return (
    <Dialog open={container !== null} title={`Logs of ${container?.name ?? ""}`} onClose={onClose} wide>
      <pre className="logs" aria-live="polite" data-testid="logs">
        {lines.length === 0 ? (ended ? "No output." : "Waiting for output…") : null}
        {lines.map((line, index) => (
          <span key={index} className={line.stream === "stderr" || line.error ? "log-stderr" : undefined}>
            {line.error ? `[${line.error.code}] ${line.error.message}` : (line.log ?? JSON.stringify(line)).replace(/\n$/, "")}
            {"\n"}
          </span>
        ))}
        <div ref={bottom} />
      </pre>
      <p className="muted small">{ended ? "The log stream has ended." : "Following: new lines appear as the container writes them."}</p>
    </Dialog>
  );
}
