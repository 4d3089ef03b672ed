// Who is looking: a signed-in user, or an anonymous visitor reading public projects.
import { ApiError } from "@/api/client";
import type { User } from "@/api/types";
import { useCurrentUser } from "./api/getCurrentUser";

/** True for the current-user endpoint's answer to a visitor without a session. */
export const isSignedOutError = (error: unknown): boolean => error instanceof ApiError && (error.status === 401 || error.status === 403);

export interface Viewer {
  user: User | undefined;
  /** Known to have no session: pages show public data read-only and offer to sign in. */
  anonymous: boolean;
}

export function useViewer(): Viewer {
  const current = useCurrentUser();
  return { user: current.data, anonymous: current.isError && isSignedOutError(current.error) };
}

/** Where to sign in and come back to `next` (a path with its query) afterwards. */
export const signInPath = (next: string): string => (next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`);
