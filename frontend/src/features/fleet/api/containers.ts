// A project's containers: listed with live status (polled), run, stopped, restarted and removed.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, request, segment, type ListParams, type Page } from "@/api/client";
import type { Container, Deploy } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

export const containersKey = (project: string) => ["containers", project] as const;
const base = (project: string) => `/projects/${segment(project)}/containers`;

// Pulls and starts take seconds: poll quickly while anything is on its way, slowly otherwise.
const SETTLED = new Set(["running", "exited", "failed"]);
export const pollInterval = (containers: Container[] | undefined) =>
  containers?.some((container) => !SETTLED.has(container.status ?? "")) ? 1500 : 8000;

export const listContainers = (project: string, params: ListParams) => api.get<Page<Container>>(base(project), params);

export function useContainers(project: string, params: ListParams) {
  return useQuery({
    queryKey: [...containersKey(project), params],
    queryFn: () => listContainers(project, params),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => pollInterval(query.state.data?.results),
  });
}

export const listArtifactContainers = (project: string, repository: string, reference: string) =>
  api.get<Page<Container>>(`${repositoryApiPath(project, repository)}/artifacts/${segment(reference)}/containers`, { page_size: 100 });

export function useArtifactContainers(project: string, repository: string, reference: string, enabled: boolean) {
  return useQuery({
    queryKey: [...containersKey(project), "artifact", repository, reference],
    queryFn: () => listArtifactContainers(project, repository, reference),
    enabled,
  });
}

export const deployContainer = (project: string, deploy: Deploy) => api.post<Container>(base(project), deploy);

export function useDeployContainer(project: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (deploy: Deploy) => deployContainer(project, deploy), onSuccess: () => client.invalidateQueries({ queryKey: containersKey(project) }) });
}

export type ContainerAction = "stop" | "restart" | "remove";

/** Removal answers 202 with the container on its way out, as stop and restart do. */
export const actOnContainer = (project: string, container: string, action: ContainerAction): Promise<Container> =>
  action === "remove"
    ? request<Container>("DELETE", `${base(project)}/${segment(container)}`)
    : api.post<Container>(`${base(project)}/${segment(container)}/${action}`);

export function useContainerAction(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ container, action }: { container: string; action: ContainerAction }) => actOnContainer(project, container, action),
    onSuccess: () => client.invalidateQueries({ queryKey: containersKey(project) }),
  });
}
