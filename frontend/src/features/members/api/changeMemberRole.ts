// Gives a member another role.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { Member, Role } from "@/api/types";
import { membersKey } from "./listMembers";

export const changeMemberRole = (project: string, username: string, role: Role) =>
  api.patch<Member>(`/projects/${segment(project)}/members/${segment(username)}`, { role });

export function useChangeMemberRole(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ username, role }: { username: string; role: Role }) => changeMemberRole(project, username, role),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: membersKey(project) });
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
