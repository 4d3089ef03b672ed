// What the signed-in user may do, as the API reports it: the UI hides or disables controls from this alone.
import { useQuery } from "@tanstack/react-query";
import { api, ApiError } from "@/api/client";
import type { CurrentPermissions } from "@/api/types";

export const permissionsKey = (project?: string) => ["permissions", project ?? "*"] as const;

export const getPermissions = (project?: string) =>
  api.get<CurrentPermissions>("/users/current/permissions", project ? { project } : undefined);

/** An anonymous visitor: the endpoint is for accounts, and a visitor may only read what is public. */
export const NO_PERMISSIONS = {
  system: {
    is_admin: false,
    can_create_project: false,
    can_manage_users: false,
    can_search_users: false,
    can_manage_robots: false,
    can_read_audit_log: false,
    can_manage_configuration: false,
  },
  projects: {},
} satisfies CurrentPermissions;

async function getPermissionsOrNone(project?: string): Promise<CurrentPermissions> {
  try {
    return await getPermissions(project);
  } catch (error) {
    // Caught here, not left to the cache's 401 handler, which would treat it as a session that ended.
    if (error instanceof ApiError && error.status === 401) return NO_PERMISSIONS;
    throw error;
  }
}

export function usePermissionsQuery(project?: string) {
  return useQuery({ queryKey: permissionsKey(project), queryFn: () => getPermissionsOrNone(project), staleTime: 30_000 });
}
