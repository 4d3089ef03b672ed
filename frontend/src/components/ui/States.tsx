// Loading, empty and error states that tell a person what is happening and what to do next.
import type { ReactNode } from "react";
import { ApiError } from "@/api/client";
import { Button } from "./Button";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty">
      <h3>{title}</h3>
      {children ? <p>{children}</p> : null}
      {action}
    </div>
  );
}

/** What a person can do about an error, from its status: sign in again, ask for access, retry. */
export function adviceFor(error: unknown): string {
  if (!(error instanceof ApiError)) return "Reload the page; if it happens again, check the system health page.";
  if (error.status === 0) return "Check your network connection, then try again.";
  if (error.status === 401) return "Your session has ended: sign in again.";
  if (error.status === 403 && error.code === "read_only") return "Berth is in read-only mode; an administrator can turn it off in Settings.";
  if (error.status === 403) return "Ask a project or system administrator for access.";
  if (error.status === 404) return "It may have been deleted or renamed; go back and pick it again.";
  if (error.status >= 500) return "Try again in a moment; if it persists, an administrator can check System health.";
  return "";
}

export function ErrorMessage({ error }: { error: Error }) {
  return (
    <div className="alert alert-error" role="alert">
      {error.message}
    </div>
  );
}

export function ErrorState({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  const message = error instanceof Error ? error.message : String(error);
  const advice = adviceFor(error);
  return (
    <div className="state state-error" role="alert">
      <h3>{title}</h3>
      <p>{message}</p>
      {advice ? <p className="muted">{advice}</p> : null}
      {onRetry ? <Button onClick={onRetry}>Try again</Button> : null}
    </div>
  );
}
