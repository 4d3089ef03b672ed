// Starts a browser session: the portal sets the session and CSRF cookies.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";

export interface Credentials {
  username: string;
  password: string;
}

export const login = (credentials: Credentials) => api.post<{ username: string }>("/auth/login", credentials);

export function useLogin() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: login,
    // Whatever was cached belonged to nobody (or to someone else): start clean.
    onSuccess: () => client.clear(),
  });
}
