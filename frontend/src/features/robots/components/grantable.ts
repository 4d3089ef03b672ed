// What a robot may be granted, grouped as the create form shows it (mirrors the portal's ROBOT_GRANTABLE;
// the API refuses anything else with a message, so a drift shows up as a clear error, not a silent grant).
export interface Grant {
  resource: string;
  action: string;
}

export const GRANTABLE: { resource: string; label: string; actions: string[] }[] = [
  { resource: "repository", label: "Repository", actions: ["pull", "push", "list", "read", "delete"] },
  { resource: "artifact", label: "Artifact", actions: ["list", "read", "create", "delete"] },
  { resource: "tag", label: "Tag", actions: ["list", "create", "delete"] },
  { resource: "project", label: "Project", actions: ["read"] },
  { resource: "log", label: "Audit log", actions: ["list"] },
  { resource: "container", label: "Container", actions: ["list", "read", "create", "update", "delete"] },
];

export const PRESETS: { label: string; grants: Grant[] }[] = [
  { label: "Pull only", grants: [{ resource: "repository", action: "pull" }] },
  {
    label: "Push and pull (CI)",
    grants: [
      { resource: "repository", action: "pull" },
      { resource: "repository", action: "push" },
      { resource: "artifact", action: "read" },
      { resource: "tag", action: "create" },
    ],
  },
];

export const grantKey = (grant: Grant) => `${grant.resource}:${grant.action}`;
