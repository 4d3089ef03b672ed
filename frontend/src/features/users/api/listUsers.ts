// Every user, for administrators: paged, filtered by username.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type ListParams, type Page } from "@/api/client";
import type { User } from "@/api/types";

export const usersKey = ["users"] as const;

export const listUsers = (params: ListParams) => api.get<Page<User>>("/users", params);

export function useUsers(params: ListParams) {
  return useQuery({ queryKey: [...usersKey, params], queryFn: () => listUsers(params), placeholderData: keepPreviousData });
}
