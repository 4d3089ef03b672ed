// What an artifact is (image, index, chart, signature, SBOM, other) as a badge, and its accessories in short.
import type { Accessory, ArtifactKind } from "@/api/types";
import { Badge, type Tone } from "@/components/ui";
import { plural } from "@/lib/format";

const LABELS: Record<ArtifactKind, [string, string, Tone]> = {
  image: ["image", "images", "neutral"],
  image_index: ["image index", "image indexes", "neutral"],
  helm_chart: ["Helm chart", "Helm charts", "info"],
  signature: ["signature", "signatures", "success"],
  sbom: ["SBOM", "SBOMs", "warning"],
  artifact: ["artifact", "artifacts", "neutral"],
};

export const kindLabel = (kind: ArtifactKind) => LABELS[kind][0];

/** The kind; an artifact of no known kind shows its type on hover, as Harbor names such artifacts by type. */
export function KindBadge({ kind, artifactType }: { kind: ArtifactKind; artifactType?: string }) {
  return (
    <span title={artifactType || undefined} data-kind={kind}>
      <Badge tone={LABELS[kind][2]}>{kindLabel(kind)}</Badge>
    </span>
  );
}

/** "2 signatures · 1 SBOM": the accessories a list shows under their subject, counted by kind. */
export function AccessoryCounts({ accessories, total }: { accessories: Accessory[]; total: number }) {
  if (total === 0) return null;
  const counts = new Map<ArtifactKind, number>();
  for (const accessory of accessories) counts.set(accessory.kind, (counts.get(accessory.kind) ?? 0) + 1);
  // In a fixed order, so rows read alike whatever was pushed last.
  const kinds = (Object.keys(LABELS) as ArtifactKind[]).filter((kind) => counts.has(kind));
  const shown = kinds.map((kind) => plural(counts.get(kind)!, LABELS[kind][0], LABELS[kind][1]));
  const more = total - accessories.length;
  return (
    <span className="small muted" aria-label="Accessories">
      {shown.join(" · ")}
      {more > 0 ? ` · ${plural(more, "more accessory", "more accessories")}` : ""}
    </span>
  );
}
