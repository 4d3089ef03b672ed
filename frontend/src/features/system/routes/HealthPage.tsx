// System health from /api/v1/health: each component with its status, latency and error.
import { Badge, ErrorState, Loading, PageHeader, type Tone } from "@/components/ui";
import { useHealth } from "../api/getHealth";

const TONE: Record<string, Tone> = { healthy: "success", degraded: "warning", unhealthy: "danger", unknown: "neutral" };
const DOT: Record<string, string> = { healthy: "health-up", unhealthy: "health-down", unknown: "health-unknown" };

export default function HealthPage() {
  const health = useHealth();
  return (
    <>
      <PageHeader title="System health">
        <p className="muted">Checked every 15 seconds while this page is open.</p>
      </PageHeader>
      {health.isPending ? (
        <Loading label="Checking components…" />
      ) : health.isError ? (
        <ErrorState error={health.error} onRetry={() => health.refetch()} />
      ) : (
        <div className="stack">
          <div className="card row">
            <strong>Overall</strong>
            <Badge tone={TONE[health.data.status] ?? "neutral"}>{health.data.status}</Badge>
          </div>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Latency
                  </th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {health.data.components.map((component) => (
                  <tr key={component.name}>
                    <td>
                      <span className={`health-dot ${DOT[component.status] ?? "health-unknown"}`} aria-hidden="true" />
                      {component.name}
                    </td>
                    <td>
                      <Badge tone={TONE[component.status] ?? "neutral"}>{component.status}</Badge>
                    </td>
                    <td className="num">{component.latency_ms.toFixed(1)} ms</td>
                    <td className="small">{component.error ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </>
  );
}
