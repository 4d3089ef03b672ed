// The signed-in user; a 401 or 403 here means nobody is signed in.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { User } from "@/api/types";

export const currentUserKey = ["current-user"] as const;

export const getCurrentUser = () => api.get<User>("/users/current");

export function useCurrentUser() {
  return useQuery({ queryKey: currentUserKey, queryFn: getCurrentUser, retry: false, staleTime: 60_000 });
}
