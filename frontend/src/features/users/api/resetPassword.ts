// An administrator sets a new password for a user.
import { useMutation } from "@tanstack/react-query";
import { api, segment } from "@/api/client";

export const resetPassword = (username: string, password: string) => api.post<void>(`/users/${segment(username)}/password`, { password });

export function useResetPassword() {
  return useMutation({ mutationFn: ({ username, password }: { username: string; password: string }) => resetPassword(username, password) });
}
