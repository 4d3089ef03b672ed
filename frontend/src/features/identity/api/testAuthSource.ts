// Looks a user up in a source as a sign-in would, to check its settings.
import { useMutation } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { AuthSourceTestResult } from "@/api/types";

export const testAuthSource = (id: number, username: string) =>
  api.post<AuthSourceTestResult>(`/system/auth-sources/${id}/test`, { username });

export function useTestAuthSource(id: number) {
  return useMutation({ mutationFn: (username: string) => testAuthSource(id, username) });
}
