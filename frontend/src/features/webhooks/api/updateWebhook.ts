// Enables or disables a webhook policy, or changes its target, events, format or secrets.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { WebhookPolicy, WebhookPolicyUpdate } from "@/api/types";
import { webhookPath, webhooksKey } from "./webhookPaths";

export const updateWebhook = (project: string | undefined, policy: number, changes: WebhookPolicyUpdate) =>
  api.patch<WebhookPolicy>(webhookPath(project, policy), changes);

export function useUpdateWebhook(project?: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ policy, changes }: { policy: number; changes: WebhookPolicyUpdate }) => updateWebhook(project, policy, changes),
    onSuccess: () => client.invalidateQueries({ queryKey: webhooksKey(project) }),
  });
}
