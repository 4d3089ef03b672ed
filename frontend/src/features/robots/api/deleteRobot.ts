// Deletes a robot account.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import { robotPath, robotsKey } from "./robotPaths";

export const deleteRobot = (project: string | undefined, robot: string) => api.delete(robotPath(project, robot));

export function useDeleteRobot(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (robot: string) => deleteRobot(project, robot), onSuccess: () => client.invalidateQueries({ queryKey: robotsKey(project) }) });
}
