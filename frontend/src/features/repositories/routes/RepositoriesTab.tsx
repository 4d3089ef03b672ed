// A project's repositories: search, sort by name / last push / pulls / size, paging.
import { Link } from "react-router";
import { EmptyState, ErrorState, Loading, Pagination, SearchInput, SortHeader } from "@/components/ui";
import { useProjectContext } from "@/features/projects/useProjectContext";
import { formatBytes, formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useRepositories } from "../api/listRepositories";
import { PushHelp } from "../components/PushHelp";
import { repositoryUrl } from "../paths";

export default function RepositoriesTab() {
  const { project, access } = useProjectContext();
  const [state, update] = useListParams({ sort: "name" });
  const repositories = useRepositories(project.name, { q: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const sortHeader = (field: string, label: string, numeric = false) => (
    <SortHeader numeric={numeric} field={field} sort={state.sort} onSort={(sort) => update({ sort })}>
      {label}
    </SortHeader>
  );

  let body;
  if (repositories.isPending) body = <Loading label="Loading repositories…" />;
  else if (repositories.isError) body = <ErrorState error={repositories.error} onRetry={() => repositories.refetch()} />;
  else if (repositories.data.count === 0 && !state.q)
    body = (
      <EmptyState title="No repositories yet">
        {access.can("repository:push") ? <PushHelp project={project.name} /> : "Nothing has been pushed to this project yet."}
      </EmptyState>
    );
  else if (repositories.data.count === 0) body = <EmptyState title={`No repository matches “${state.q}”`} />;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {sortHeader("name", "Name")}
                {sortHeader("artifact_count", "Artifacts", true)}
                {sortHeader("size", "Size", true)}
                {sortHeader("pushed_at", "Last push")}
                {sortHeader("pull_count", "Pulls", true)}
              </tr>
            </thead>
            <tbody>
              {repositories.data.results.map((repository) => (
                <tr key={repository.id}>
                  <td>
                    <Link to={repositoryUrl(project.name, repository.short_name)}>{repository.name}</Link>
                  </td>
                  <td className="num">{repository.artifact_count.toLocaleString("en")}</td>
                  <td className="num">{formatBytes(repository.size)}</td>
                  <td title={repository.pushed_at ?? ""}>{formatRelative(repository.pushed_at)}</td>
                  <td className="num">{repository.pull_count.toLocaleString("en")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={repositories.data.count} noun="repositories" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );
  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search repositories" value={state.q} onSearch={(q) => update({ q })} />
      </div>
      {body}
    </>
  );
}
