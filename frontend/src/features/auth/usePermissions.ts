// Capability checks for controls: "may I show this button?" answered only from what the API reports.
import type { SystemCapabilities } from "@/api/types";
import { usePermissionsQuery } from "./api/getPermissions";

/** Permission labels are `resource:action`, e.g. `repository:pull`, `member:create`. */
export type PermissionLabel = `${string}:${string}`;

export interface ProjectAccess {
  role: string | null;
  can: (permission: PermissionLabel) => boolean;
  loaded: boolean;
}

export function useProjectAccess(project: string): ProjectAccess {
  const query = usePermissionsQuery(project);
  const entry = query.data?.projects?.[project];
  const granted = new Set(entry?.permissions ?? []);
  return { role: entry?.role ?? null, can: (permission) => granted.has(permission), loaded: query.isSuccess };
}

const NOTHING: SystemCapabilities = {
  is_admin: false,
  can_create_project: false,
  can_manage_users: false,
  can_search_users: false,
  can_manage_robots: false,
  can_read_audit_log: false,
  can_manage_configuration: false,
};

export function useSystemCapabilities(): SystemCapabilities & { loaded: boolean } {
  const query = usePermissionsQuery();
  return { ...(query.data?.system ?? NOTHING), loaded: query.isSuccess };
}
