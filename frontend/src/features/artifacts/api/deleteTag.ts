// Deletes one tag; the artifact it pointed at stays.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { repositoryApiPath } from "@/features/repositories/paths";

export const deleteTag = (project: string, repository: string, digest: string, tag: string) =>
  api.delete(`${repositoryApiPath(project, repository)}/artifacts/${segment(digest)}/tags/${segment(tag)}`);

export function useDeleteTag(project: string, repository: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ digest, tag }: { digest: string; tag: string }) => deleteTag(project, repository, digest, tag),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["artifacts", project, repository] });
      client.invalidateQueries({ queryKey: ["repository", project, repository] });
    },
  });
}
