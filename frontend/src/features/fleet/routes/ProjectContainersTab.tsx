// A project's containers across the fleet, with their live status; run a new one from an artifact.
import { useState } from "react";
import { Button, EmptyState, ErrorState, Loading, Pagination, SearchInput } from "@/components/ui";
import { useProjectContext } from "@/features/projects/useProjectContext";
import { useListParams } from "@/lib/useListParams";
import { useContainers } from "../api/containers";
import { ContainersTable } from "../components/ContainersTable";
import { RunContainerDialog } from "../components/RunContainerDialog";

export default function ProjectContainersTab() {
  const { project, access } = useProjectContext();
  const [state, update] = useListParams({ sort: "-created_at" });
  const containers = useContainers(project.name, { name: state.q, page: state.page, page_size: state.pageSize });
  const [running, setRunning] = useState(false);
  const canCreate = access.can("container:create");

  let body;
  if (containers.isPending) body = <Loading label="Loading containers…" />;
  else if (containers.isError) body = <ErrorState error={containers.error} onRetry={() => containers.refetch()} />;
  else if (containers.data.count === 0)
    body = (
      <EmptyState title={state.q ? `No container matches “${state.q}”` : "No containers"} action={canCreate && !state.q ? <Button variant="primary" onClick={() => setRunning(true)}>Run a container</Button> : null}>
        Run any artifact of this project on a host of the fleet.
      </EmptyState>
    );
  else
    body = (
      <>
        <ContainersTable project={project.name} containers={containers.data.results} canRead={access.can("container:read")} canUpdate={access.can("container:update")} canDelete={access.can("container:delete")} />
        <Pagination page={state.page} pageSize={state.pageSize} count={containers.data.count} noun="containers" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );
  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search containers" value={state.q} onSearch={(q) => update({ q })} />
        <span className="spacer" />
        {canCreate ? (
          <Button variant="primary" onClick={() => setRunning(true)}>
            Run a container
          </Button>
        ) : null}
      </div>
      {body}
      {running ? <RunContainerDialog project={project.name} open onClose={() => setRunning(false)} /> : null}
    </>
  );
}
