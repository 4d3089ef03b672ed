// The tags of one artifact, paged.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, segment, type ListParams, type Page } from "@/api/client";
import type { Tag } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

export const listArtifactTags = (project: string, repository: string, reference: string, params: ListParams) =>
  api.get<Page<Tag>>(`${repositoryApiPath(project, repository)}/artifacts/${segment(reference)}/tags`, params);

export function useArtifactTags(project: string, repository: string, reference: string, params: ListParams) {
  return useQuery({
    queryKey: ["artifacts", project, repository, reference, "tags", params],
    queryFn: () => listArtifactTags(project, repository, reference, params),
    placeholderData: keepPreviousData,
  });
}
