// Removes a member from a project.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { membersKey } from "./listMembers";

export const removeMember = (project: string, username: string) => api.delete(`/projects/${segment(project)}/members/${segment(username)}`);

export function useRemoveMember(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (username: string) => removeMember(project, username),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: membersKey(project) });
      client.invalidateQueries({ queryKey: ["project", project] });
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
