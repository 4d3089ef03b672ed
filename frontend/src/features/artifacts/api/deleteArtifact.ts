// Deletes an artifact (and so every tag pointing at it).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { repositoryApiPath } from "@/features/repositories/paths";

export const deleteArtifact = (project: string, repository: string, digest: string) =>
  api.delete(`${repositoryApiPath(project, repository)}/artifacts/${segment(digest)}`);

export function useDeleteArtifact(project: string, repository: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (digest: string) => deleteArtifact(project, repository, digest),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["artifacts", project, repository] });
      client.invalidateQueries({ queryKey: ["repository", project, repository] });
      client.invalidateQueries({ queryKey: ["repositories", project] });
    },
  });
}
