// One project by name.
import { useQuery } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { Project } from "@/api/types";

export const projectKey = (name: string) => ["project", name] as const;

export const getProject = (name: string) => api.get<Project>(`/projects/${segment(name)}`);

export function useProject(name: string) {
  return useQuery({ queryKey: projectKey(name), queryFn: () => getProject(name) });
}
