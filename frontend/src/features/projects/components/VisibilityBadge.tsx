// Public or private, at a glance.
import { Badge } from "@/components/ui";

export function VisibilityBadge({ isPublic }: { isPublic: boolean }) {
  return isPublic ? <Badge tone="info">Public</Badge> : <Badge>Private</Badge>;
}

export function RoleBadge({ role }: { role: string | null | undefined }) {
  if (!role) return null;
  return <Badge tone={role === "project_admin" ? "warning" : "neutral"}>{roleLabel(role)}</Badge>;
}

export function roleLabel(role: string): string {
  const text = role.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
