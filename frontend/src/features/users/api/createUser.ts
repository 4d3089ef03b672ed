// Creates a local user account.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { User, UserCreate } from "@/api/types";
import { usersKey } from "./listUsers";

export const createUser = (user: UserCreate) => api.post<User>("/users", user);

export function useCreateUser() {
  const client = useQueryClient();
  return useMutation({ mutationFn: createUser, onSuccess: () => client.invalidateQueries({ queryKey: usersKey }) });
}
