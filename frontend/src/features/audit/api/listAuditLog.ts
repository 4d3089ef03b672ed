// Audit rows, newest first: all of them for administrators, or one project's.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, segment, type ListParams, type Page } from "@/api/client";
import type { AuditEntry } from "@/api/types";

export const auditPath = (project?: string) => (project ? `/projects/${segment(project)}/audit-logs` : "/audit-logs");

export const listAuditLog = (project: string | undefined, params: ListParams) => api.get<Page<AuditEntry>>(auditPath(project), params);

export function useAuditLog(project: string | undefined, params: ListParams, options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: ["audit", project ?? "*", params],
    queryFn: () => listAuditLog(project, params),
    placeholderData: keepPreviousData,
    enabled: options.enabled ?? true,
  });
}
