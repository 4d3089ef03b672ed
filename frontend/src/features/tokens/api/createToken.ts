// Creates a personal token; its secret is in this one response and nowhere else.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { TokenCreate, TokenCreated } from "@/api/types";
import { tokensKey } from "./listTokens";

export const createToken = (token: TokenCreate) => api.post<TokenCreated>("/users/current/tokens", token);

export function useCreateToken() {
  const client = useQueryClient();
  return useMutation({ mutationFn: createToken, onSuccess: () => client.invalidateQueries({ queryKey: tokensKey }) });
}
