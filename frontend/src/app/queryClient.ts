// One query cache for the app: refetched when shown, retried once, never retried on a refusal.
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "@/api/client";
import { currentUserKey } from "@/features/auth/api/getCurrentUser";

export function createQueryClient(): QueryClient {
  // A 401 anywhere means the session ended (expired, or signed out in another tab): asking for the
  // current user again lets the shell send the person to sign in, keeping where they were.
  // The current-user query's own 401 is that answer already: refetching it again would never end.
  const onError = (error: unknown, queryKey?: readonly unknown[]) => {
    if (!(error instanceof ApiError) || error.status !== 401 || queryKey?.[0] === currentUserKey[0]) return;
    if (client.getQueryState(currentUserKey)?.status === "error") return;
    void client.invalidateQueries({ queryKey: currentUserKey });
  };
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => onError(error, query.queryKey) }),
    mutationCache: new MutationCache({ onError: (error) => onError(error) }),
    defaultOptions: {
      queries: {
        // Pushes happen from the command line: lists refetch whenever shown, painting cached rows meanwhile.
        staleTime: 0,
        refetchOnWindowFocus: false,
        retry: (failures, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 1,
      },
    },
  });
  return client;
}
