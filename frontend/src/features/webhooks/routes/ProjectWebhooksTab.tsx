// A project's webhooks: project admins manage them, maintainers see them and their deliveries.
import { useProjectContext } from "@/features/projects/useProjectContext";
import { WebhooksPanel } from "../components/WebhooksPanel";

export default function ProjectWebhooksTab() {
  const { project, access } = useProjectContext();
  return <WebhooksPanel project={project.name} canCreate={access.can("webhook:create")} canUpdate={access.can("webhook:update")} canDelete={access.can("webhook:delete")} />;
}
