// Enables or disables a robot, or changes its description, expiry or permissions.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { Robot, RobotUpdate } from "@/api/types";
import { robotPath, robotsKey } from "./robotPaths";

export const updateRobot = (project: string | undefined, robot: string, changes: RobotUpdate) => api.patch<Robot>(robotPath(project, robot), changes);

export function useUpdateRobot(project?: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ robot, changes }: { robot: string; changes: RobotUpdate }) => updateRobot(project, robot, changes),
    onSuccess: () => client.invalidateQueries({ queryKey: robotsKey(project) }),
  });
}
