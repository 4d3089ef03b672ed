// What a project tab gets from its page: the project and what the user may do in it.
import { useOutletContext } from "react-router";
import type { Project } from "@/api/types";
import type { ProjectAccess } from "@/features/auth/usePermissions";

export interface ProjectContext {
  project: Project;
  access: ProjectAccess;
}

export const useProjectContext = () => useOutletContext<ProjectContext>();
