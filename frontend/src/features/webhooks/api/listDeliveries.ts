// A policy's delivery log, newest first; refreshed while deliveries are pending.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { WebhookDelivery } from "@/api/types";
import { deliveriesKey, webhookPath } from "./webhookPaths";

export const listDeliveries = (project: string | undefined, policy: number, params: ListParams) =>
  api.get<Page<WebhookDelivery>>(`${webhookPath(project, policy)}/deliveries`, params);

export function useDeliveries(project: string | undefined, policy: number, params: ListParams) {
  return useQuery({
    queryKey: [...deliveriesKey(project, policy), params],
    queryFn: () => listDeliveries(project, policy, params),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.results.some((delivery) => delivery.status === "pending") ? 2000 : false),
  });
}
