// A project's repositories, paged, searched and sorted on the server.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, segment, type ListParams, type Page } from "@/api/client";
import type { Repository } from "@/api/types";

export const repositoriesKey = (project: string) => ["repositories", project] as const;

export const listRepositories = (project: string, params: ListParams) => api.get<Page<Repository>>(`/projects/${segment(project)}/repositories`, params);

export function useRepositories(project: string, params: ListParams) {
  return useQuery({ queryKey: [...repositoriesKey(project), params], queryFn: () => listRepositories(project, params), placeholderData: keepPreviousData });
}
