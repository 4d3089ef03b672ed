// A project's robot accounts.
import { useProjectContext } from "@/features/projects/useProjectContext";
import { RobotsPanel } from "../components/RobotsPanel";

export default function ProjectRobotsTab() {
  const { project, access } = useProjectContext();
  return <RobotsPanel project={project.name} canCreate={access.can("robot:create")} canUpdate={access.can("robot:update")} canDelete={access.can("robot:delete")} />;
}
