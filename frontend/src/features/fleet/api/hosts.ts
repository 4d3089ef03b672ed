// Hosts of the fleet (administrators): status from heartbeats, capacity and usage; drain or label them.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, segment, type ListParams, type Page } from "@/api/client";
import type { Host, HostUpdate } from "@/api/types";

export const hostsKey = ["hosts"] as const;

export const listHosts = (params: ListParams) => api.get<Page<Host>>("/hosts", params);

export function useHosts(params: ListParams, options: { enabled?: boolean } = {}) {
  return useQuery({ queryKey: [...hostsKey, params], queryFn: () => listHosts(params), placeholderData: keepPreviousData, refetchInterval: 10_000, enabled: options.enabled ?? true });
}

export const updateHost = (name: string, changes: HostUpdate) => api.patch<Host>(`/hosts/${segment(name)}`, changes);

export function useUpdateHost() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, changes }: { name: string; changes: HostUpdate }) => updateHost(name, changes),
    onSuccess: () => client.invalidateQueries({ queryKey: hostsKey }),
  });
}
