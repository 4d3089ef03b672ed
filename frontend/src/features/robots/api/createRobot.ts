// Creates a robot account; its secret is in this one response only.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { RobotCreate, RobotCreated } from "@/api/types";
import { robotsKey, robotsPath } from "./robotPaths";

export const createRobot = (project: string | undefined, robot: RobotCreate) => api.post<RobotCreated>(robotsPath(project), robot);

export function useCreateRobot(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (robot: RobotCreate) => createRobot(project, robot), onSuccess: () => client.invalidateQueries({ queryKey: robotsKey(project) }) });
}
