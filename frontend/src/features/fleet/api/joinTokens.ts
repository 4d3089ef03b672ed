// Join tokens let a new host enrol itself; each is shown once and can be revoked.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { JoinToken, JoinTokenCreate, JoinTokenCreated } from "@/api/types";

export const joinTokensKey = ["join-tokens"] as const;

export const listJoinTokens = (params: ListParams) => api.get<Page<JoinToken>>("/hosts/join-tokens", params);

export function useJoinTokens(params: ListParams) {
  return useQuery({ queryKey: [...joinTokensKey, params], queryFn: () => listJoinTokens(params), placeholderData: keepPreviousData });
}

export const createJoinToken = (token: JoinTokenCreate) => api.post<JoinTokenCreated>("/hosts/join-tokens", token);

export function useCreateJoinToken() {
  const client = useQueryClient();
  return useMutation({ mutationFn: createJoinToken, onSuccess: () => client.invalidateQueries({ queryKey: joinTokensKey }) });
}

export const revokeJoinToken = (id: number) => api.delete(`/hosts/join-tokens/${id}`);

export function useRevokeJoinToken() {
  const client = useQueryClient();
  return useMutation({ mutationFn: revokeJoinToken, onSuccess: () => client.invalidateQueries({ queryKey: joinTokensKey }) });
}
