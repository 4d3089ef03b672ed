// Creates a webhook policy; its secret and auth header are never shown again.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { WebhookPolicy, WebhookPolicyCreate } from "@/api/types";
import { webhooksKey, webhooksPath } from "./webhookPaths";

export const createWebhook = (project: string | undefined, policy: WebhookPolicyCreate) => api.post<WebhookPolicy>(webhooksPath(project), policy);

export function useCreateWebhook(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (policy: WebhookPolicyCreate) => createWebhook(project, policy), onSuccess: () => client.invalidateQueries({ queryKey: webhooksKey(project) }) });
}
