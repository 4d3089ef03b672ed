// Changes system settings: read-only mode, who may create projects, registry token lifetime.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { SystemSettings, SystemSettingsUpdate } from "@/api/types";
import { systemSettingsKey } from "./getSystemSettings";

export const updateSystemSettings = (changes: SystemSettingsUpdate) => api.patch<SystemSettings>("/system/settings", changes);

export function useUpdateSystemSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: updateSystemSettings,
    onSuccess: (settings) => {
      client.setQueryData(systemSettingsKey, settings);
      client.invalidateQueries({ queryKey: ["permissions"] });
    },
  });
}
