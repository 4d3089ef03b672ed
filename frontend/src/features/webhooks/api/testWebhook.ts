// Sends a test event to a policy's target; it appears in the delivery log.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { WebhookDelivery } from "@/api/types";
import { webhookPath, webhooksKey } from "./webhookPaths";

export const testWebhook = (project: string | undefined, policy: number) => api.post<WebhookDelivery>(`${webhookPath(project, policy)}/test`);

export function useTestWebhook(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (policy: number) => testWebhook(project, policy), onSuccess: () => client.invalidateQueries({ queryKey: webhooksKey(project) }) });
}
