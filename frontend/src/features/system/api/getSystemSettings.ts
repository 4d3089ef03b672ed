// Settings administrators change at run time.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { SystemSettings } from "@/api/types";

export const systemSettingsKey = ["system-settings"] as const;

export const getSystemSettings = () => api.get<SystemSettings>("/system/settings");

export function useSystemSettings() {
  return useQuery({ queryKey: systemSettingsKey, queryFn: getSystemSettings });
}
