// The first page after sign-in: counts, storage per project, and push/pull activity.
import { Link } from "react-router";
import { BarChart } from "@/components/charts/BarChart";
import { LineChart } from "@/components/charts/LineChart";
import { ErrorState, Loading, PageHeader } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { useHosts } from "@/features/fleet/api/hosts";
import { useProjects } from "@/features/projects/api/listProjects";
import { formatBytes } from "@/lib/format";
import { useActivity } from "../api/activity";
import { useLargestRepositories } from "../api/listAllRepositories";

export function storagePerProject(repositories: { project: string; size: number }[], limit = 10) {
  const totals = new Map<string, number>();
  for (const repository of repositories) totals.set(repository.project, (totals.get(repository.project) ?? 0) + repository.size);
  return [...totals.entries()]
    .map(([label, value]) => ({ label, value }))
    .sort((a, b) => b.value - a.value)
    .slice(0, limit);
}

export default function DashboardPage() {
  const capabilities = useSystemCapabilities();
  const projects = useProjects({ page_size: 1 });
  const repositories = useLargestRepositories();
  const activity = useActivity(14, capabilities.can_read_audit_log);
  const hosts = useHosts({ page_size: 100, sort: "name" }, { enabled: capabilities.is_admin });
  const totalSize = repositories.data?.results.reduce((sum, repository) => sum + repository.size, 0) ?? 0;

  return (
    <>
      <PageHeader title="Dashboard" />
      <div className="stack">
        <div className="cards">
          <div className="card">
            <div className="muted">Projects</div>
            <div className="stat">{projects.data ? projects.data.count.toLocaleString("en") : "…"}</div>
            <Link to="/projects">Browse projects</Link>
          </div>
          <div className="card">
            <div className="muted">Repositories</div>
            <div className="stat">{repositories.data ? repositories.data.count.toLocaleString("en") : "…"}</div>
          </div>
          <div className="card">
            <div className="muted">Storage{repositories.data && repositories.data.count > repositories.data.results.length ? " (largest 1,000 repositories)" : ""}</div>
            <div className="stat">{repositories.data ? formatBytes(totalSize) : "…"}</div>
          </div>
        </div>
        <div className="cards">
          <section className="card" aria-labelledby="storage-title">
            <h2 id="storage-title">Storage per project</h2>
            {repositories.isPending ? (
              <Loading />
            ) : repositories.isError ? (
              <ErrorState error={repositories.error} onRetry={() => repositories.refetch()} />
            ) : repositories.data.results.length === 0 ? (
              <p className="muted">Nothing pushed yet. Push an image into a project and its size shows here.</p>
            ) : (
              <BarChart title="Storage per project" bars={storagePerProject(repositories.data.results)} format={formatBytes} />
            )}
          </section>
          <section className="card" aria-labelledby="activity-title">
            <h2 id="activity-title">Pushes and pulls, last 14 days</h2>
            {!capabilities.can_read_audit_log ? (
              <p className="muted">Activity comes from the audit log, which administrators can read.</p>
            ) : activity.isPending ? (
              <Loading />
            ) : activity.isError ? (
              <ErrorState error={activity.error} onRetry={() => activity.refetch()} />
            ) : (
              <>
                <LineChart
                  title="Pushes and pulls per day"
                  days={activity.data.days}
                  series={[
                    { name: "pushes", className: "line-push", color: "#3b7be8", values: activity.data.pushes },
                    { name: "pulls", className: "line-pull", color: "#1f9d63", values: activity.data.pulls },
                  ]}
                />
                {activity.data.truncated ? <p className="muted small">Busy period: counted from the latest 1,000 entries of each.</p> : null}
              </>
            )}
          </section>
          {capabilities.is_admin ? (
            <section className="card" aria-labelledby="hosts-title">
              <h2 id="hosts-title">Containers per host</h2>
              {hosts.isPending ? (
                <Loading />
              ) : hosts.isError ? (
                <ErrorState error={hosts.error} onRetry={() => hosts.refetch()} />
              ) : hosts.data.results.length === 0 ? (
                <p className="muted">
                  No hosts have joined yet. <Link to="/admin/hosts">Enrol one</Link> to run containers.
                </p>
              ) : (
                <BarChart
                  title="Containers per host"
                  bars={hosts.data.results.map((host) => ({ label: host.name, value: Number((host.usage as { containers_running?: number }).containers_running ?? 0) }))}
                />
              )}
            </section>
          ) : null}
        </div>
      </div>
    </>
  );
}
