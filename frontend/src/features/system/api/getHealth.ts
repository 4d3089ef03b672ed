// Each component's health, refreshed every 15 seconds while the page is open.
import { useQuery } from "@tanstack/react-query";
import { request } from "@/api/client";
import type { Health } from "@/api/types";

export const getHealth = () => request<Health>("GET", "/health", undefined, [503]);

export function useHealth() {
  return useQuery({ queryKey: ["health"], queryFn: getHealth, refetchInterval: 15_000 });
}
