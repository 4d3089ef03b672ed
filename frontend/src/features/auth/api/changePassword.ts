// Changes the signed-in user's own password; the old one is required.
import { useMutation } from "@tanstack/react-query";
import { api } from "@/api/client";

export interface PasswordChange {
  old_password: string;
  new_password: string;
}

export const changePassword = (change: PasswordChange) => api.post<void>("/users/current/password", change);

export function useChangePassword() {
  return useMutation({ mutationFn: changePassword });
}
