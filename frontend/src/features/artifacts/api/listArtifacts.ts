// A repository's artifacts, a page at a time: `q` matches part of a tag or the start of a digest.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { ArtifactSummary } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

export const artifactsKey = (project: string, repository: string) => ["artifacts", project, repository] as const;

export const listArtifacts = (project: string, repository: string, params: ListParams) =>
  api.get<Page<ArtifactSummary>>(`${repositoryApiPath(project, repository)}/artifacts`, params);

export function useArtifacts(project: string, repository: string, params: ListParams) {
  return useQuery({
    queryKey: [...artifactsKey(project, repository), params],
    queryFn: () => listArtifacts(project, repository, params),
    placeholderData: keepPreviousData,
  });
}
