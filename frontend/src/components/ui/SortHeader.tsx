// A table column header that sorts the server-side list by its field; pressing it again reverses the order.
import type { ReactNode } from "react";

export function SortHeader({ field, sort, onSort, children, numeric }: { field: string; sort: string; onSort: (sort: string) => void; children: ReactNode; numeric?: boolean }) {
  const active = sort === field || sort === `-${field}`;
  const descending = sort === `-${field}`;
  const next = active && !descending ? `-${field}` : field;
  return (
    <th scope="col" className={numeric ? "num" : undefined} aria-sort={active ? (descending ? "descending" : "ascending") : "none"}>
      <button type="button" className="sort-button" onClick={() => onSort(next)}>
        {children}
        <span aria-hidden="true" className="sort-mark">
          {active ? (descending ? "▼" : "▲") : "↕"}
        </span>
      </button>
    </th>
  );
}
