// Changes a user: enable or disable, administrator or not, profile fields.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { User, UserUpdate } from "@/api/types";
import { usersKey } from "./listUsers";

export const updateUser = (username: string, changes: UserUpdate) => api.patch<User>(`/users/${segment(username)}`, changes);

export function useUpdateUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ username, changes }: { username: string; changes: UserUpdate }) => updateUser(username, changes),
    onSuccess: () => client.invalidateQueries({ queryKey: usersKey }),
  });
}
