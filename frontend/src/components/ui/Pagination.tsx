// Server-side paging: only one page of rows is ever fetched or drawn, whatever the total.
import { Button } from "./Button";

export interface PaginationProps {
  page: number;
  pageSize: number;
  count: number;
  onPage: (page: number) => void;
  onPageSize?: (size: number) => void;
  sizes?: number[];
  noun?: string;
}

export function Pagination({ page, pageSize, count, onPage, onPageSize, sizes = [10, 25, 50, 100], noun = "items" }: PaginationProps) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  const first = count === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(count, page * pageSize);
  return (
    <nav className="pagination" aria-label="Pages">
      <span className="muted" aria-live="polite">
        {count === 0 ? `No ${noun}` : `${first.toLocaleString("en")}–${last.toLocaleString("en")} of ${count.toLocaleString("en")} ${noun}`}
      </span>
      <span className="pagination-controls">
        {onPageSize ? (
          <label className="inline-label">
            <span>Per page</span>
            <select value={pageSize} onChange={(event) => onPageSize(Number(event.target.value))}>
              {sizes.map((size) => (
                <option key={size} value={size}>
                  {size}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <Button size="sm" disabled={page <= 1} onClick={() => onPage(page - 1)} aria-label="Previous page">
          ‹ Prev
        </Button>
        <span className="pagination-page">
          Page {page.toLocaleString("en")} of {pages.toLocaleString("en")}
        </span>
        <Button size="sm" disabled={page >= pages} onClick={() => onPage(page + 1)} aria-label="Next page">
          Next ›
        </Button>
      </span>
    </nav>
  );
}
