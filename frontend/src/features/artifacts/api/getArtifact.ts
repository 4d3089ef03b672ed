// One artifact by digest or tag, with its manifest, config, layers, children and referrers.
import { useQuery } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { ArtifactDetail } from "@/api/types";
import { repositoryApiPath } from "@/features/repositories/paths";

export const getArtifact = (project: string, repository: string, reference: string) =>
  api.get<ArtifactDetail>(`${repositoryApiPath(project, repository)}/artifacts/${segment(reference)}`);

export function useArtifact(project: string, repository: string, reference: string) {
  return useQuery({ queryKey: ["artifacts", project, repository, reference, "detail"], queryFn: () => getArtifact(project, repository, reference) });
}
