// A project's retention policy, its runs (dry or real) and one run's report.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, segment, type Page } from "@/api/client";
import type { RetentionPolicy, RetentionPolicyUpdate, RetentionRun, RetentionRunDetail } from "@/api/types";

const base = (project: string) => `/projects/${segment(project)}`;
export const retentionPolicyKey = (project: string) => ["retention-policy", project] as const;
export const retentionRunsKey = (project: string) => ["retention-runs", project] as const;

export function useRetentionPolicy(project: string) {
  return useQuery({ queryKey: retentionPolicyKey(project), queryFn: () => api.get<RetentionPolicy>(`${base(project)}/retention-policy`) });
}

export function useSaveRetentionPolicy(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (policy: RetentionPolicyUpdate) => api.put<RetentionPolicy>(`${base(project)}/retention-policy`, policy),
    onSuccess: (saved) => client.setQueryData(retentionPolicyKey(project), saved),
  });
}

export function useRetentionRuns(project: string) {
  return useQuery({
    queryKey: retentionRunsKey(project),
    queryFn: () => api.get<Page<RetentionRun>>(`${base(project)}/retention-runs`, { page_size: 20 }),
    // A run is carried out by a worker: the list follows it until it finishes.
    refetchInterval: (query) => (query.state.data?.results.some((run) => run.status === "pending" || run.status === "running") ? 1000 : false),
  });
}

export function useStartRetentionRun(project: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (dryRun: boolean) => api.post<RetentionRun>(`${base(project)}/retention-runs`, { dry_run: dryRun }),
    onSuccess: () => client.invalidateQueries({ queryKey: retentionRunsKey(project) }),
  });
}

export function useRetentionRun(project: string, id: number | null) {
  return useQuery({
    queryKey: ["retention-run", project, id],
    enabled: id !== null,
    queryFn: () => api.get<RetentionRunDetail>(`${base(project)}/retention-runs/${id}`),
    refetchInterval: (query) => (query.state.data && ["pending", "running"].includes(query.state.data.status) ? 1000 : false),
  });
}
