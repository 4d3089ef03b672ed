// Usernames starting with what was typed, to pick a new member; only for callers allowed to list users.
import { useQuery } from "@tanstack/react-query";
import { api, type Page } from "@/api/client";
import type { UserSearchResult } from "@/api/types";

export const searchUsers = (q: string) => api.get<Page<UserSearchResult>>("/users/search", { q });

export function useUserSearch(q: string, enabled: boolean) {
  return useQuery({ queryKey: ["user-search", q], queryFn: () => searchUsers(q), enabled: enabled && q.length > 0, staleTime: 30_000 });
}
