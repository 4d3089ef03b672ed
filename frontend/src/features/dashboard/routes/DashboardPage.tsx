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

/** The largest projects as chart bars; empty projects are left out, there is nothing to compare. */
export function storagePerProject(projects: { name: string; size: number }[], limit = 10) {
  return projects
    .filter((project) => project.size > 0)
    .map((project) => ({ label: project.name, value: project.size }))
    .sort((a, b) => b.value - a.value)
    .slice(0, limit);
}

export default function DashboardPage() {
  const capabilities = useSystemCapabilities();
  // The API sums each project's storage; a page of the largest gives the totals and the chart in one request.
  const projects = useProjects({ sort: "-size", page_size: 1000 });
  const activity = useActivity(14, capabilities.can_read_audit_log);
  const hosts = useHosts({ page_size: 100, sort: "name" }, { enabled: capabilities.is_admin });
  const listed = projects.data?.results ?? [];
  const partial = projects.data !== undefined && projects.data.count > listed.length;
  const totalSize = listed.reduce((sum, project) => sum + project.size, 0);
  const totalRepositories = listed.reduce((sum, project) => sum + (project.repository_count ?? 0), 0);

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
            <div className="muted">Repositories{partial ? " (largest 1,000 projects)" : ""}</div>
            <div className="stat">{projects.data ? totalRepositories.toLocaleString("en") : "…"}</div>
          </div>
          <div className="card">
            <div className="muted">Storage{partial ? " (largest 1,000 projects)" : ""}</div>
            <div className="stat">{projects.data ? formatBytes(totalSize) : "…"}</div>
          </div>
        </div>
        <div className="cards">
          <section className="card" aria-labelledby="storage-title">
            <h2 id="storage-title">Storage per project</h2>
            {projects.isPending ? (
              <Loading />
            ) : projects.isError ? (
              <ErrorState error={projects.error} onRetry={() => projects.refetch()} />
            ) : totalSize === 0 ? (
              <p className="muted">Nothing pushed yet. Push an image into a project and its size shows here.</p>
            ) : (
              <BarChart title="Storage per project" bars={storagePerProject(listed)} format={formatBytes} />
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
