// Takes a directory group's role in a project away.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { groupMembersKey } from "./listGroupMembers";

export const removeGroupMember = (project: string, id: number) => api.delete(`/projects/${segment(project)}/group-members/${id}`);

export function useRemoveGroupMember(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => removeGroupMember(project, id),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: groupMembersKey(project) });
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
