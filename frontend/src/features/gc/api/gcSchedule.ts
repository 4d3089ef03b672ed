// The cron expression scheduled garbage collections follow.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { GCSchedule, GCScheduleUpdate } from "@/api/types";

export const gcScheduleKey = ["gc-schedule"] as const;

export const getGcSchedule = () => api.get<GCSchedule>("/system/gc/schedule");

export function useGcSchedule() {
  return useQuery({ queryKey: gcScheduleKey, queryFn: getGcSchedule });
}

export const updateGcSchedule = (body: GCScheduleUpdate) => api.put<GCSchedule>("/system/gc/schedule", body);

export function useUpdateGcSchedule() {
  const client = useQueryClient();
  return useMutation({ mutationFn: updateGcSchedule, onSuccess: (schedule) => client.setQueryData(gcScheduleKey, schedule) });
}
