// A page's load failure. Anonymous visitors are told "not found" for private projects as for missing
// ones, so they are sent to sign in instead: after signing in they see the page or a real "not found".
import { Navigate, useLocation } from "react-router";
import { ApiError } from "@/api/client";
import { ErrorState } from "@/components/ui";
import { signInPath, useViewer } from "../useViewer";

export function ErrorOrSignIn({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const viewer = useViewer();
  const location = useLocation();
  if (viewer.anonymous && error instanceof ApiError && [401, 403, 404].includes(error.status))
    return <Navigate to={signInPath(`${location.pathname}${location.search}`)} replace />;
  return <ErrorState error={error} onRetry={onRetry} title={title} />;
}
