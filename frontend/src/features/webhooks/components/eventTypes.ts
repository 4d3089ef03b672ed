// The event types a policy may ask for, grouped as the create dialog shows them.
import type { WebhookEventType } from "@/api/types";

export const EVENT_GROUPS: { label: string; system?: boolean; types: { type: WebhookEventType; label: string }[] }[] = [
  {
    label: "Artifacts",
    types: [
      { type: "artifact.pushed", label: "pushed" },
      { type: "artifact.pulled", label: "pulled (per minute)" },
      { type: "artifact.deleted", label: "deleted" },
      { type: "tag.deleted", label: "tag deleted" },
    ],
  },
  {
    label: "Containers",
    types: [
      { type: "container.deployed", label: "deployed" },
      { type: "container.running", label: "running" },
      { type: "container.exited", label: "exited" },
      { type: "container.failed", label: "failed" },
      { type: "container.oom_killed", label: "OOM-killed" },
      { type: "container.unhealthy", label: "unhealthy" },
    ],
  },
  {
    label: "Tag policies",
    types: [{ type: "retention.finished", label: "retention run finished" }],
  },
  {
    label: "Hosts",
    system: true,
    types: [
      { type: "host.online", label: "online" },
      { type: "host.unreachable", label: "unreachable" },
      { type: "host.drained", label: "drained" },
    ],
  },
  {
    label: "Garbage collection",
    system: true,
    types: [{ type: "gc.finished", label: "finished" }],
  },
];

/** The groups a policy of this level may use: host and GC events belong to no project, for system policies only. */
export const eventGroupsFor = (project?: string) => EVENT_GROUPS.filter((group) => !group.system || !project);
