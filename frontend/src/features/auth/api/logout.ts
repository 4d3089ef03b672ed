// Ends the browser session.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";

export const logout = () => api.post<void>("/auth/logout");

export function useLogout() {
  const client = useQueryClient();
  return useMutation({ mutationFn: logout, onSettled: () => client.clear() });
}
