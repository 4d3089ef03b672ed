// Every tag of a repository, paged on the server: fast even at 100,000 tags.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { RepositoryTag } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

export const listRepositoryTags = (project: string, repository: string, params: ListParams) =>
  api.get<Page<RepositoryTag>>(`${repositoryApiPath(project, repository)}/tags`, params);

export function useRepositoryTags(project: string, repository: string, params: ListParams) {
  return useQuery({
    queryKey: ["artifacts", project, repository, "tags", params],
    queryFn: () => listRepositoryTags(project, repository, params),
    placeholderData: keepPreviousData,
  });
}
