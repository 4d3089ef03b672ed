// The largest repositories the user may see, across projects: the dashboard sums them per project.
import { useQuery } from "@tanstack/react-query";
import { api, type Page } from "@/api/client";
import type { Repository } from "@/api/types";

export const listLargestRepositories = () => api.get<Page<Repository>>("/repositories", { sort: "-size", page_size: 1000 });

export function useLargestRepositories() {
  return useQuery({ queryKey: ["repositories", "*", "largest"], queryFn: listLargestRepositories, staleTime: 60_000 });
}
