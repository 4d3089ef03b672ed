// Directory groups that are members of a project.
import { useQuery } from "@tanstack/react-query";
import { api, segment, type Page } from "@/api/client";
import type { GroupMember } from "@/api/types";

export const groupMembersKey = (project: string) => ["group-members", project] as const;

export const listGroupMembers = (project: string) => api.get<Page<GroupMember>>(`/projects/${segment(project)}/group-members`, { page_size: 100 });

export function useGroupMembers(project: string) {
  return useQuery({ queryKey: groupMembersKey(project), queryFn: () => listGroupMembers(project) });
}
