// Gives a directory group a role in a project.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { GroupMember, Role } from "@/api/types";
import { groupMembersKey } from "./listGroupMembers";

type NewGroupMember = { source: string; group: string; role: Role };

export const addGroupMember = (project: string, member: NewGroupMember) =>
  api.post<GroupMember>(`/projects/${segment(project)}/group-members`, member);

export function useAddGroupMember(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (member: NewGroupMember) => addGroupMember(project, member),
    onSuccess: () => client.invalidateQueries({ queryKey: groupMembersKey(project) }),
  });
}
