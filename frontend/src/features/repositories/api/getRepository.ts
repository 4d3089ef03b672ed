// One repository with its counters.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { Repository } from "@/api/types";
import { repositoryApiPath } from "../paths";

export const getRepository = (project: string, name: string) => api.get<Repository>(repositoryApiPath(project, name));

export function useRepository(project: string, name: string) {
  return useQuery({ queryKey: ["repository", project, name], queryFn: () => getRepository(project, name) });
}
