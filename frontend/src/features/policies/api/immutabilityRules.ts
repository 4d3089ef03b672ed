// A project's immutability rules: list, create, delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, segment } from "@/api/client";
import type { ImmutabilityRule, ImmutabilityRuleCreate } from "@/api/types";

const path = (project: string) => `/projects/${segment(project)}/immutability-rules`;
export const immutabilityRulesKey = (project: string) => ["immutability-rules", project] as const;

export function useImmutabilityRules(project: string) {
  return useQuery({ queryKey: immutabilityRulesKey(project), queryFn: () => api.get<ImmutabilityRule[]>(path(project)) });
}

export function useCreateImmutabilityRule(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rule: ImmutabilityRuleCreate) => api.post<ImmutabilityRule>(path(project), rule),
    onSuccess: () => client.invalidateQueries({ queryKey: immutabilityRulesKey(project) }),
  });
}

export function useDeleteImmutabilityRule(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.delete(`${path(project)}/${id}`),
    onSuccess: () => client.invalidateQueries({ queryKey: immutabilityRulesKey(project) }),
  });
}
