// System webhooks: every project's events and the fleet's hosts; administrators only.
import { PageHeader } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { WebhooksPanel } from "../components/WebhooksPanel";

export default function SystemWebhooksPage() {
  const capabilities = useSystemCapabilities();
  return (
    <>
      <PageHeader title="System webhooks">
        <p className="muted">Policies that hear every project's events and the fleet's hosts going online, unreachable or drained.</p>
      </PageHeader>
      <WebhooksPanel canCreate={capabilities.is_admin} canUpdate={capabilities.is_admin} canDelete={capabilities.is_admin} />
    </>
  );
}
