// Changes the signed-in user's own display name and e-mail address.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { ProfileUpdate, User } from "@/api/types";
import { currentUserKey } from "./getCurrentUser";

export const updateProfile = (changes: ProfileUpdate) => api.patch<User>("/users/current", changes);

export function useUpdateProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: updateProfile,
    // The top bar shows the display name: it changes as soon as the API has it.
    onSuccess: (user) => client.setQueryData(currentUserKey, user),
  });
}
