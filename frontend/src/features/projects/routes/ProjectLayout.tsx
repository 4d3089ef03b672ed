// A project's page: its name, visibility and role, and tabs for repositories, members, robots, containers, webhooks, logs, settings.
import { Outlet, useParams } from "react-router";
import { Badge, Loading, PageHeader, TabLinks } from "@/components/ui";
import { ErrorOrSignIn } from "@/features/auth/components/ErrorOrSignIn";
import { useProjectAccess } from "@/features/auth/usePermissions";
import { useViewer } from "@/features/auth/useViewer";
import { plural } from "@/lib/format";
import { useProject } from "../api/getProject";
import { QuotaBar } from "../components/QuotaBar";
import { RoleBadge, VisibilityBadge } from "../components/VisibilityBadge";

export default function ProjectLayout() {
  const name = useParams().project!;
  const project = useProject(name);
  const access = useProjectAccess(name);
  const viewer = useViewer();
  if (project.isPending) return <Loading label="Loading the project…" />;
  if (project.isError) return <ErrorOrSignIn error={project.error} onRetry={() => project.refetch()} title={`Project “${name}” could not be opened`} />;
  const tabs = [{ to: "repositories", label: "Repositories" }];
  if (access.can("member:list")) tabs.push({ to: "members", label: "Members" });
  if (access.can("robot:list")) tabs.push({ to: "robots", label: "Robot accounts" });
  if (access.can("container:list")) tabs.push({ to: "containers", label: "Containers" });
  if (access.can("webhook:list")) tabs.push({ to: "webhooks", label: "Webhooks" });
  if (access.can("immutable-tag:list") || access.can("tag-retention:read")) tabs.push({ to: "policies", label: "Policies" });
  if (access.can("log:list")) tabs.push({ to: "logs", label: "Audit log" });
  if (access.can("project:update") || access.can("project:delete")) tabs.push({ to: "settings", label: "Settings" });
  return (
    <>
      <PageHeader title={project.data.name} crumbs={[{ to: "/projects", label: "Projects" }]}>
        <div className="row">
          <VisibilityBadge isPublic={project.data.public ?? false} />
          {access.role ? <RoleBadge role={access.role} /> : viewer.anonymous ? <Badge>Read-only</Badge> : <Badge>No role</Badge>}
          <span className="muted small">
            {plural(project.data.repository_count ?? 0, "repository", "repositories")} · {plural(project.data.member_count, "member")}
          </span>
          <QuotaBar usage={project.data.storage_usage ?? 0} limit={project.data.storage_limit} />
        </div>
        {project.data.description ? <p className="muted">{project.data.description}</p> : null}
      </PageHeader>
      <TabLinks label="Project sections" tabs={tabs} />
      <Outlet context={{ project: project.data, access }} />
    </>
  );
}
