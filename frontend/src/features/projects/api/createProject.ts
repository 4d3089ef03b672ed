// Creates a project; the caller becomes its project admin.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { Project, ProjectCreate } from "@/api/types";
import { projectsKey } from "./listProjects";

export const createProject = (project: ProjectCreate) => api.post<Project>("/projects", project);

export function useCreateProject() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: createProject,
    onSuccess: () => {
      client.invalidateQueries({ queryKey: projectsKey });
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
