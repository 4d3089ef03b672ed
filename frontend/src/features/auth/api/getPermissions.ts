// What the signed-in user may do, as the API reports it: the UI hides or disables controls from this alone.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { CurrentPermissions } from "@/api/types";

export const permissionsKey = (project?: string) => ["permissions", project ?? "*"] as const;

export const getPermissions = (project?: string) =>
  api.get<CurrentPermissions>("/users/current/permissions", project ? { project } : undefined);

export function usePermissionsQuery(project?: string) {
  return useQuery({ queryKey: permissionsKey(project), queryFn: () => getPermissions(project), staleTime: 30_000 });
}
