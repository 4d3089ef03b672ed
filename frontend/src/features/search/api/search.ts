// Projects and repositories whose names contain the text, among those the user may see.
import { useQuery } from "@tanstack/react-query";
import { api } from "@/api/client";
import type { components } from "@/api/schema";

export type SearchResult = components["schemas"]["SearchResult"];

export const search = (q: string) => api.get<SearchResult>("/search", { q, limit: 8 });

export function useSearch(q: string) {
  return useQuery({ queryKey: ["search", q], queryFn: () => search(q), enabled: q.length > 0, staleTime: 10_000 });
}
