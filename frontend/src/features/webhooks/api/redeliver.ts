// Sends a delivery's event again, as a new delivery in the log.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { WebhookDelivery } from "@/api/types";
import { deliveriesKey, webhookPath } from "./webhookPaths";

export const redeliver = (project: string | undefined, policy: number, delivery: number) =>
  api.post<WebhookDelivery>(`${webhookPath(project, policy)}/deliveries/${delivery}/redeliver`);

export function useRedeliver(project: string | undefined, policy: number) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (delivery: number) => redeliver(project, policy, delivery), onSuccess: () => client.invalidateQueries({ queryKey: deliveriesKey(project, policy) }) });
}
