// Replaces a robot's secret; the old one stops working at once and the new one is shown once.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { RobotSecret } from "@/api/types";
import { robotPath, robotsKey } from "./robotPaths";

export const refreshRobotSecret = (project: string | undefined, robot: string) => api.post<RobotSecret>(`${robotPath(project, robot)}/secret`, {});

export function useRefreshRobotSecret(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (robot: string) => refreshRobotSecret(project, robot), onSuccess: () => client.invalidateQueries({ queryKey: robotsKey(project) }) });
}
