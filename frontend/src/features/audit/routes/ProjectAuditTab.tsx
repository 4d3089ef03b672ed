// A project's audit log.
import { useProjectContext } from "@/features/projects/useProjectContext";
import { AuditTable } from "../components/AuditTable";

export default function ProjectAuditTab() {
  const { project } = useProjectContext();
  return <AuditTable project={project.name} />;
}
