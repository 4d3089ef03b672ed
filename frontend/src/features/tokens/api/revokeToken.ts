// Revokes a personal token at once.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import { tokensKey } from "./listTokens";

export const revokeToken = (id: number) => api.delete(`/users/current/tokens/${id}`);

export function useRevokeToken() {
  const client = useQueryClient();
  return useMutation({ mutationFn: revokeToken, onSuccess: () => client.invalidateQueries({ queryKey: tokensKey }) });
}
