// Resumes a policy paused after repeated failures; its pending deliveries go out again, in order.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { WebhookPolicy } from "@/api/types";
import { webhookPath, webhooksKey } from "./webhookPaths";

export const resumeWebhook = (project: string | undefined, policy: number) => api.post<WebhookPolicy>(`${webhookPath(project, policy)}/resume`);

export function useResumeWebhook(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (policy: number) => resumeWebhook(project, policy), onSuccess: () => client.invalidateQueries({ queryKey: webhooksKey(project) }) });
}
