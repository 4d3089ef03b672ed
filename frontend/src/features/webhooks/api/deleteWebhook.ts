// Deletes a webhook policy and its delivery log.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import { webhookPath, webhooksKey } from "./webhookPaths";

export const deleteWebhook = (project: string | undefined, policy: number) => api.delete(webhookPath(project, policy));

export function useDeleteWebhook(project?: string) {
  const client = useQueryClient();
  return useMutation({ mutationFn: (policy: number) => deleteWebhook(project, policy), onSuccess: () => client.invalidateQueries({ queryKey: webhooksKey(project) }) });
}
