// The top bar's search: projects and repositories by name, chosen with the arrow keys and Enter.
import { useEffect, useId, useState } from "react";
import { useNavigate } from "react-router";
import { repositoryUrl } from "@/features/repositories/paths";
import { useDebounced } from "@/lib/useDebounced";
import { useSearch } from "../api/search";

interface Hit {
  label: string;
  kind: "project" | "repository";
  to: string;
}

export function GlobalSearch() {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const query = useDebounced(text.trim(), 200);
  const results = useSearch(query);
  const navigate = useNavigate();
  const listId = useId();

  const hits: Hit[] = [
    ...(results.data?.projects ?? []).map((project) => ({ label: project.name, kind: "project" as const, to: `/projects/${encodeURIComponent(project.name)}` })),
    ...(results.data?.repositories ?? []).map((repository) => ({
      label: repository.name,
      kind: "repository" as const,
      to: repositoryUrl(repository.project, repository.name.slice(repository.project.length + 1)),
    })),
  ];
  useEffect(() => setActive(0), [query]);

  const go = (hit: Hit) => {
    setText("");
    setOpen(false);
    navigate(hit.to);
  };
  const onKey = (event: React.KeyboardEvent) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((index) => Math.min(index + 1, hits.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((index) => Math.max(index - 1, 0));
    } else if (event.key === "Enter" && hits[active]) {
      event.preventDefault();
      go(hits[active]);
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  };
  const showList = open && query.length > 0;
  return (
    <div className="global-search">
      <input
        type="search"
        role="combobox"
        aria-label="Search projects and repositories"
        aria-expanded={showList}
        aria-controls={listId}
        aria-activedescendant={showList && hits[active] ? `${listId}-${active}` : undefined}
        aria-autocomplete="list"
        placeholder="Search projects and repositories"
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKey}
      />
      {showList ? (
        <ul className="search-results" role="listbox" id={listId} aria-label="Search results">
          {results.isPending ? <li className="search-empty">Searching…</li> : null}
          {results.isSuccess && hits.length === 0 ? <li className="search-empty">Nothing visible to you matches “{query}”.</li> : null}
          {hits.map((hit, index) => (
            <li
              key={`${hit.kind}:${hit.label}`}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              className={index === active ? "search-active" : undefined}
              onMouseDown={(event) => {
                event.preventDefault();
                go(hit);
              }}
            >
              <span className="muted small">{hit.kind}</span> {hit.label}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
