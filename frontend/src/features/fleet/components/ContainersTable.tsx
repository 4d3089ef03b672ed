// Containers with live status, image, host and ports; environment, logs, stop, restart and remove where allowed.
import { useState } from "react";
import { Link } from "react-router";
import type { Container } from "@/api/types";
import { Button, ConfirmDialog } from "@/components/ui";
import { artifactUrl } from "@/features/repositories/paths";
import { formatRelative } from "@/lib/format";
import { useContainerAction } from "../api/containers";
import { ContainerStatus } from "./ContainerStatus";
import { EnvironmentDialog } from "./EnvironmentDialog";
import { LogsDialog } from "./LogsDialog";

interface Port {
  host_ip?: string;
  host_port?: number;
  container_port?: number;
  protocol?: string;
}

const portsOf = (container: Container) =>
  (((container.spec ?? {}) as { ports?: Port[] }).ports ?? []).map((port) => `${port.host_port}→${port.container_port}${port.protocol === "udp" ? "/udp" : ""}`).join(", ");

export function ContainersTable({ project, containers, canUpdate, canDelete, canRead }: { project: string; containers: Container[]; canUpdate: boolean; canDelete: boolean; canRead: boolean }) {
  const act = useContainerAction(project);
  const [removing, setRemoving] = useState<Container | null>(null);
  const [logs, setLogs] = useState<Container | null>(null);
  const [environment, setEnvironment] = useState<Container | null>(null);
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Image</th>
              <th scope="col">Host</th>
              <th scope="col" className="hide-phone">
                Ports
              </th>
              <th scope="col" className="hide-phone">
                Started
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {containers.map((container) => {
              const shortRepository = container.repository.startsWith(`${project}/`) ? container.repository.slice(project.length + 1) : container.repository;
              const running = container.status === "running";
              return (
                <tr key={container.id}>
                  <td className="nowrap">{container.name}</td>
                  <td>
                    <ContainerStatus container={container} />
                  </td>
                  <td>
                    <Link to={artifactUrl(project, shortRepository, container.digest || container.reference)}>
                      {container.repository}:{container.reference}
                    </Link>
                  </td>
                  <td className="nowrap">{container.host || <span className="muted">not placed</span>}</td>
                  <td className="hide-phone">{portsOf(container) || <span className="muted">—</span>}</td>
                  <td className="hide-phone">{formatRelative(container.started_at)}</td>
                  <td className="actions">
                    <Button size="sm" variant="ghost" onClick={() => setEnvironment(container)} aria-label={`Environment of ${container.name}`}>
                      Env
                    </Button>
                    {canRead ? (
                      <Button size="sm" variant="ghost" onClick={() => setLogs(container)} aria-label={`Logs of ${container.name}`}>
                        Logs
                      </Button>
                    ) : null}
                    {canUpdate ? (
                      <>
                        <Button size="sm" variant="ghost" disabled={!running} onClick={() => act.mutate({ container: container.name, action: "stop" })} aria-label={`Stop ${container.name}`}>
                          Stop
                        </Button>
                        <Button size="sm" variant="ghost" onClick={() => act.mutate({ container: container.name, action: "restart" })} aria-label={`Restart ${container.name}`}>
                          Restart
                        </Button>
                      </>
                    ) : null}
                    {canDelete ? (
                      <Button size="sm" variant="ghost" onClick={() => setRemoving(container)} aria-label={`Remove ${container.name}`}>
                        Remove
                      </Button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {act.error ? (
        <div className="alert alert-error" role="alert">
          {act.error.message}
        </div>
      ) : null}
      <LogsDialog project={project} container={logs} onClose={() => setLogs(null)} />
      <EnvironmentDialog container={environment} onClose={() => setEnvironment(null)} />
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.name ?? ""}?`}
        confirmLabel="Remove container"
        onClose={() => setRemoving(null)}
        onConfirm={() => act.mutateAsync({ container: removing!.name, action: "remove" })}
      >
        <p>The container is stopped and deleted from its host. Named volumes stay.</p>
      </ConfirmDialog>
    </>
  );
}
