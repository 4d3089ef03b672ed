// Addresses of repositories and artifacts, in the UI and in the API.
import { segment } from "@/api/client";

/**
 * A repository's name inside its project (`team/app`) as one API path segment. Encoded twice: the
 * portal decodes once more, so a name holding `artifacts` or `tags` can never be mistaken for a route.
 */
export const repositorySegment = (shortName: string) => encodeURIComponent(encodeURIComponent(shortName));

export const repositoryApiPath = (project: string, shortName: string) => `/projects/${segment(project)}/repositories/${repositorySegment(shortName)}`;

export const repositoryUrl = (project: string, shortName: string) => `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(shortName)}`;

export const artifactUrl = (project: string, shortName: string, reference: string) =>
  `${repositoryUrl(project, shortName)}/artifacts/${encodeURIComponent(reference)}`;
