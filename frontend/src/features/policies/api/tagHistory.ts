// A tag's history (the time machine) and restoring it to an earlier digest.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { TagHistory } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

const path = (project: string, repository: string, tag: string) => `${repositoryApiPath(project, repository)}/tags/${encodeURIComponent(tag)}`;

export function useTagHistory(project: string, repository: string, tag: string) {
  return useQuery({
    queryKey: ["tag-history", project, repository, tag],
    enabled: tag !== "",
    queryFn: () => api.get<TagHistory>(`${path(project, repository, tag)}/history`),
  });
}

export function useRestoreTag(project: string, repository: string, tag: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (digest: string) => api.post(`${path(project, repository, tag)}/restore`, { digest }),
    onSuccess: () => client.invalidateQueries(),
  });
}
