// Capability checks for controls: "may I show this button?" answered only from what the API reports.
import type { SystemCapabilities } from "@/api/types";
import { NO_PERMISSIONS, usePermissionsQuery } from "./api/getPermissions";

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

export function useSystemCapabilities(): SystemCapabilities & { loaded: boolean } {
  const query = usePermissionsQuery();
  return { ...(query.data?.system ?? NO_PERMISSIONS.system), loaded: query.isSuccess };
}
