// The global audit log, for administrators.
import { PageHeader } from "@/components/ui";
import { AuditTable } from "../components/AuditTable";

export default function AuditLogPage() {
  return (
    <>
      <PageHeader title="Audit log" />
      <AuditTable />
    </>
  );
}
