// Deletes a user account.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import { usersKey } from "./listUsers";

export const deleteUser = (username: string) => api.delete(`/users/${segment(username)}`);

export function useDeleteUser() {
  const client = useQueryClient();
  return useMutation({ mutationFn: deleteUser, onSuccess: () => client.invalidateQueries({ queryKey: usersKey }) });
}
