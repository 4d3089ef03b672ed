// The signed-in user; a 401 or 403 here means nobody is signed in.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { User } from "@/api/types";

export const currentUserKey = ["current-user"] as const;

export const getCurrentUser = () => api.get<User>("/users/current");

export function useCurrentUser() {
  // retryOnMount off: an anonymous visitor's 401 is an answer, not a failure to retry each time a part
  // of the page asks who is looking (each retry would put the whole shell back into its loading state).
  // Signing in clears the cache, and a 401 elsewhere invalidates this query, so it is asked again then.
  return useQuery({ queryKey: currentUserKey, queryFn: getCurrentUser, retry: false, retryOnMount: false, staleTime: 60_000 });
}
