// Robot accounts of a project, or of the system.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { Robot } from "@/api/types";
import { robotsKey, robotsPath } from "./robotPaths";

export const listRobots = (project: string | undefined, params: ListParams) => api.get<Page<Robot>>(robotsPath(project), params);

export function useRobots(project: string | undefined, params: ListParams) {
  return useQuery({ queryKey: [...robotsKey(project), params], queryFn: () => listRobots(project, params), placeholderData: keepPreviousData });
}
