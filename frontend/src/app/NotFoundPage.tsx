// Any address the UI does not know.
import { Link } from "react-router";
import { EmptyState } from "@/components/ui";

export default function NotFoundPage() {
  return (
    <EmptyState title="Page not found" action={<Link to="/">Go to the dashboard</Link>}>
      The address may be mistyped, or what it pointed to has been deleted.
    </EmptyState>
  );
}
