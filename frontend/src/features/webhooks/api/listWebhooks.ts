// Webhook policies of a project, or of the system.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { WebhookPolicy } from "@/api/types";
import { webhooksKey, webhooksPath } from "./webhookPaths";

export const listWebhooks = (project: string | undefined, params: ListParams) => api.get<Page<WebhookPolicy>>(webhooksPath(project), params);

export function useWebhooks(project: string | undefined, params: ListParams) {
  return useQuery({ queryKey: [...webhooksKey(project), params], queryFn: () => listWebhooks(project, params), placeholderData: keepPreviousData });
}
