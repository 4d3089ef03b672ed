// Changes a project's visibility or description.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { Project, ProjectUpdate } from "@/api/types";
import { projectKey } from "./getProject";
import { projectsKey } from "./listProjects";

export const updateProject = (name: string, changes: ProjectUpdate) => api.patch<Project>(`/projects/${segment(name)}`, changes);

export function useUpdateProject(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (changes: ProjectUpdate) => updateProject(name, changes),
    onSuccess: (project) => {
      client.setQueryData(projectKey(name), project);
      client.invalidateQueries({ queryKey: projectsKey });
    },
  });
}
