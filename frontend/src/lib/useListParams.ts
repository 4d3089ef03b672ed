// Search, sort and page kept in the URL, so a list can be shared, reloaded and navigated back to.
import { useCallback } from "react";
import { useSearchParams } from "react-router";

export interface ListState {
  q: string;
  sort: string;
  page: number;
  pageSize: number;
}

export function useListParams(defaults: { sort: string; pageSize?: number }, prefix = "") {
  const [params, setParams] = useSearchParams();
  const key = (name: string) => `${prefix}${name}`;
  const state: ListState = {
    q: params.get(key("q")) ?? "",
    sort: params.get(key("sort")) ?? defaults.sort,
    page: Math.max(1, Number(params.get(key("page")) ?? "1") || 1),
    pageSize: Number(params.get(key("page_size")) ?? defaults.pageSize ?? 25) || 25,
  };
  const update = useCallback(
    (changes: Partial<ListState>) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          const set = (name: string, value: string | number | undefined, fallback: string | number) => {
            if (value === undefined) return;
            if (value === "" || value === fallback) next.delete(key(name));
            else next.set(key(name), String(value));
          };
          set("q", changes.q, "");
          set("sort", changes.sort, defaults.sort);
          set("page_size", changes.pageSize, defaults.pageSize ?? 25);
          // A new search or sort starts again from the first page.
          const page = changes.page ?? (changes.q !== undefined || changes.sort !== undefined || changes.pageSize !== undefined ? 1 : undefined);
          set("page", page, 1);
          return next;
        },
        { replace: true },
      );
    },
    [setParams, prefix, defaults.sort, defaults.pageSize],
  );
  return [state, update] as const;
}
