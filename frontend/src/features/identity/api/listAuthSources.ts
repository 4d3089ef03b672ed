// The authentication sources (LDAP directories), for administrators.
import { useQuery } from "@tanstack/react-query";
import { api, type Page } from "@/api/client";
import type { AuthSource } from "@/api/types";

export const authSourcesKey = ["auth-sources"] as const;

export const listAuthSources = () => api.get<Page<AuthSource>>("/system/auth-sources", { page_size: 100 });

export function useAuthSources(enabled = true) {
  return useQuery({ queryKey: authSourcesKey, queryFn: listAuthSources, enabled });
}
