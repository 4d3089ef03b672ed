// Adds a user to a project with a role.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { Member, Role } from "@/api/types";
import { membersKey } from "./listMembers";

export const addMember = (project: string, username: string, role: Role) =>
  api.post<Member>(`/projects/${segment(project)}/members`, { username, role });

export function useAddMember(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ username, role }: { username: string; role: Role }) => addMember(project, username, role),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: membersKey(project) });
      client.invalidateQueries({ queryKey: ["project", project] });
    },
  });
}
