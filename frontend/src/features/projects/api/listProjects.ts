// Projects the caller may see, one page at a time, searched by name and sorted on the server.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { Project } from "@/api/types";

export const projectsKey = ["projects"] as const;

export const listProjects = (params: ListParams) => api.get<Page<Project>>("/projects", params);

export function useProjects(params: ListParams) {
  return useQuery({ queryKey: [...projectsKey, params], queryFn: () => listProjects(params), placeholderData: keepPreviousData });
}
