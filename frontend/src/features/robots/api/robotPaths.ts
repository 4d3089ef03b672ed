// System robots live at /robots, a project's at /projects/{name}/robots.
import { segment } from "@/api/client";

export const robotsPath = (project?: string) => (project ? `/projects/${segment(project)}/robots` : "/robots");
export const robotPath = (project: string | undefined, robot: string) => `${robotsPath(project)}/${segment(robot)}`;
export const robotsKey = (project?: string) => ["robots", project ?? "*"] as const;
