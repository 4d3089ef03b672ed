// Adds an authentication source; its bind password goes in `secret` and is never sent back.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { AuthSource, AuthSourceCreate } from "@/api/types";
import { authSourcesKey } from "./listAuthSources";

export const createAuthSource = (source: AuthSourceCreate) => api.post<AuthSource>("/system/auth-sources", source);

export function useCreateAuthSource() {
  const client = useQueryClient();
  return useMutation({ mutationFn: createAuthSource, onSuccess: () => client.invalidateQueries({ queryKey: authSourcesKey }) });
}
