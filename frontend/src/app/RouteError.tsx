// Shown when a page fails to load or render, e.g. a stale chunk after an upgrade.
import { useRouteError } from "react-router";
import { ErrorState } from "@/components/ui";

export function RouteError() {
  const error = useRouteError();
  return (
    <main className="content">
      <ErrorState error={error instanceof Error ? error : new Error("This page failed to load.")} onRetry={() => window.location.reload()} title="This page failed to load" />
    </main>
  );
}
