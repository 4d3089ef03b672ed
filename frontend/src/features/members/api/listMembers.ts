// Members of a project, paged and filtered by username on the server.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, segment, type ListParams, type Page } from "@/api/client";
import type { Member } from "@/api/types";

export const membersKey = (project: string) => ["members", project] as const;

export const listMembers = (project: string, params: ListParams) => api.get<Page<Member>>(`/projects/${segment(project)}/members`, params);

export function useMembers(project: string, params: ListParams) {
  return useQuery({ queryKey: [...membersKey(project), params], queryFn: () => listMembers(project, params), placeholderData: keepPreviousData });
}
