// System webhook policies live at /system/webhooks, a project's at /projects/{name}/webhooks.
import { segment } from "@/api/client";

export const webhooksPath = (project?: string) => (project ? `/projects/${segment(project)}/webhooks` : "/system/webhooks");
export const webhookPath = (project: string | undefined, policy: number) => `${webhooksPath(project)}/${policy}`;
export const webhooksKey = (project?: string) => ["webhooks", project ?? "*"] as const;
export const deliveriesKey = (project: string | undefined, policy: number) => [...webhooksKey(project), policy, "deliveries"] as const;
