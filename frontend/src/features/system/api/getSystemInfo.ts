// What clients need to know about this Berth: the registry host for docker commands, read-only mode.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { SystemInfo } from "@/api/types";

export const getSystemInfo = () => api.get<SystemInfo>("/systeminfo");

export function useSystemInfo() {
  return useQuery({ queryKey: ["systeminfo"], queryFn: getSystemInfo, staleTime: 60_000 });
}

/** The host `docker login` / `docker pull` take; the page's own host until the API has answered. */
export function useRegistryHost(): string {
  return useSystemInfo().data?.registry_url || window.location.host;
}
