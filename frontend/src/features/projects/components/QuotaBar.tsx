// The project's storage against its quota: a bar, with a warning from 80 %.
import { formatBytes } from "@/lib/format";

const WARN_FROM = 0.8;

export function QuotaBar({ usage, limit }: { usage: number; limit: number | null | undefined }) {
  if (limit === null || limit === undefined) return <span className="muted small">{formatBytes(usage)} stored · no quota</span>;
  const share = limit > 0 ? usage / limit : 1;
  const percent = Math.round(Math.min(1, share) * 100);
  return (
    <span className="small">
      <span className={share >= WARN_FROM ? "meter meter-warning" : "meter"} role="meter" aria-label="Storage quota used" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <span style={{ width: `${percent}%` }} />
      </span>
      {formatBytes(usage)} of {formatBytes(limit)} ({percent} %)
      {share >= WARN_FROM ? (
        <span className="alert-inline warning" role="status">
          {" "}
          — nearly full: pushes that need more than {formatBytes(Math.max(0, limit - usage))} are refused
        </span>
      ) : null}
    </span>
  );
}
