// An artifact's platforms as os/arch[/variant].
import type { Platform } from "@/api/types";
import { Badge } from "@/components/ui";

export const platformLabel = (platform: Platform) => [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");

export function Platforms({ platforms }: { platforms: Platform[] }) {
  if (platforms.length === 0) return <span className="muted">—</span>;
  return (
    <span className="row" style={{ gap: ".25rem" }}>
      {platforms.map((platform) => (
        <Badge key={platformLabel(platform)}>{platformLabel(platform)}</Badge>
      ))}
    </span>
  );
}
