// Deletes a project; the API refuses while it still holds repositories, and says so.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { projectsKey } from "./listProjects";

export const deleteProject = (name: string) => api.delete(`/projects/${segment(name)}`);

export function useDeleteProject() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: deleteProject,
    onSuccess: () => {
      client.invalidateQueries({ queryKey: projectsKey });
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
