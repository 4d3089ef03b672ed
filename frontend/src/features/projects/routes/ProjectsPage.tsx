// All projects the user may see: search, sort, paging, and a create button when allowed.
import { useState } from "react";
import { Link } from "react-router";
import { Button, EmptyState, ErrorState, Loading, PageHeader, Pagination, SearchInput, SortHeader } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { useViewer } from "@/features/auth/useViewer";
import { formatBytes, formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useProjects } from "../api/listProjects";
import { CreateProjectDialog } from "../components/CreateProjectDialog";
import { RoleBadge, VisibilityBadge } from "../components/VisibilityBadge";

export default function ProjectsPage() {
  const [state, update] = useListParams({ sort: "name" });
  const [creating, setCreating] = useState(false);
  const capabilities = useSystemCapabilities();
  const viewer = useViewer();
  const projects = useProjects({ name: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });

  let body;
  if (projects.isPending) body = <Loading label="Loading projects…" />;
  else if (projects.isError) body = <ErrorState error={projects.error} onRetry={() => projects.refetch()} />;
  else if (projects.data.count === 0 && !state.q && viewer.anonymous)
    body = <EmptyState title="No public projects">Sign in to see the projects you are a member of.</EmptyState>;
  else if (projects.data.count === 0 && !state.q)
    body = (
      <EmptyState
        title="No projects yet"
        action={capabilities.can_create_project ? <Button variant="primary" onClick={() => setCreating(true)}>Create the first project</Button> : null}
      >
        A project holds repositories and decides who may push and pull them.
        {capabilities.can_create_project ? "" : " Ask an administrator to create one or to add you to one."}
      </EmptyState>
    );
  else if (projects.data.count === 0)
    body = (
      <EmptyState title={`No project matches “${state.q}”`} action={<Button onClick={() => update({ q: "" })}>Clear the search</Button>}>
        Search looks for the text anywhere in project names.
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <SortHeader field="name" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Name
                </SortHeader>
                <SortHeader field="public" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Access
                </SortHeader>
                {viewer.anonymous ? null : <th scope="col">Your role</th>}
                <SortHeader numeric field="repository_count" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Repositories
                </SortHeader>
                <SortHeader numeric field="size" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Size
                </SortHeader>
                <SortHeader numeric field="member_count" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Members
                </SortHeader>
                <SortHeader field="created_at" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Created
                </SortHeader>
              </tr>
            </thead>
            <tbody aria-busy={projects.isFetching}>
              {projects.data.results.map((project) => (
                <tr key={project.id}>
                  <td>
                    <Link to={`/projects/${encodeURIComponent(project.name)}`}>{project.name}</Link>
                    {project.description ? <div className="muted small">{project.description}</div> : null}
                  </td>
                  <td>
                    <VisibilityBadge isPublic={project.public ?? false} />
                  </td>
                  {viewer.anonymous ? null : (
                    <td>{project.current_user_role ? <RoleBadge role={project.current_user_role} /> : <span className="muted">—</span>}</td>
                  )}
                  <td className="num">{(project.repository_count ?? 0).toLocaleString("en")}</td>
                  <td className="num">{formatBytes(project.size)}</td>
                  <td className="num">{project.member_count.toLocaleString("en")}</td>
                  <td title={project.created_at}>{formatRelative(project.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination
          page={state.page}
          pageSize={state.pageSize}
          count={projects.data.count}
          noun="projects"
          onPage={(page) => update({ page })}
          onPageSize={(pageSize) => update({ pageSize })}
        />
      </>
    );

  return (
    <>
      <PageHeader
        title={viewer.anonymous ? "Public projects" : "Projects"}
        actions={
          capabilities.can_create_project ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New project
            </Button>
          ) : null
        }
      />
      <div className="toolbar">
        <SearchInput label="Search projects" value={state.q} onSearch={(q) => update({ q })} />
      </div>
      {body}
      <CreateProjectDialog open={creating} onClose={() => setCreating(false)} />
    </>
  );
}
