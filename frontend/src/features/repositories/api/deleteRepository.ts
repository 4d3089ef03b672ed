// Deletes a repository with all its artifacts and tags.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import { repositoryApiPath } from "../paths";
import { repositoriesKey } from "./listRepositories";

export const deleteRepository = (project: string, name: string) => api.delete(repositoryApiPath(project, name));

export function useDeleteRepository(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => deleteRepository(project, name),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: repositoriesKey(project) });
      client.invalidateQueries({ queryKey: ["project", project] });
    },
  });
}
