// The signed-in user's personal tokens (CLI secrets); only their prefixes are ever shown again.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { Token } from "@/api/types";

export const tokensKey = ["tokens"] as const;

export const listTokens = (params: ListParams) => api.get<Page<Token>>("/users/current/tokens", params);

export function useTokens(params: ListParams) {
  return useQuery({ queryKey: [...tokensKey, params], queryFn: () => listTokens(params), placeholderData: keepPreviousData });
}
