// Garbage collection runs: the history (refreshed while one is unfinished), start (or dry run) and stop.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Page } from "@/api/client";
import type { GCRun, GCRunRequest } from "@/api/types";

export const gcRunsKey = ["gc-runs"] as const;

export const listGcRuns = () => api.get<Page<GCRun>>("/system/gc", { page_size: 20 });

const unfinished = (run: GCRun) => run.status === "pending" || run.status === "running";

export function useGcRuns() {
  return useQuery({
    queryKey: gcRunsKey,
    queryFn: listGcRuns,
    refetchInterval: (query) => (query.state.data?.results.some(unfinished) ? 2_000 : false),
  });
}

export const startGcRun = (body: GCRunRequest) => api.post<GCRun>("/system/gc", body);

export function useStartGcRun() {
  const client = useQueryClient();
  return useMutation({ mutationFn: startGcRun, onSuccess: () => client.invalidateQueries({ queryKey: gcRunsKey }) });
}

export const stopGcRun = () => api.post<GCRun>("/system/gc/stop");

export function useStopGcRun() {
  const client = useQueryClient();
  return useMutation({ mutationFn: stopGcRun, onSuccess: () => client.invalidateQueries({ queryKey: gcRunsKey }) });
}
