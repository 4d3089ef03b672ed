// System robot accounts, which may span every project or chosen ones.
import { PageHeader } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { RobotsPanel } from "../components/RobotsPanel";

export default function SystemRobotsPage() {
  const capabilities = useSystemCapabilities();
  return (
    <>
      <PageHeader title="System robot accounts">
        <p className="muted">Robots named robot$NAME, for automation that spans projects.</p>
      </PageHeader>
      <RobotsPanel canCreate={capabilities.can_manage_robots} canUpdate={capabilities.can_manage_robots} canDelete={capabilities.can_manage_robots} />
    </>
  );
}
