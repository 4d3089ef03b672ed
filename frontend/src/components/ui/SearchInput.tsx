// A search box that reports its value once typing pauses.
import { useEffect, useState } from "react";
import { useDebounced } from "@/lib/useDebounced";

export function SearchInput({ value, onSearch, label, placeholder }: { value: string; onSearch: (value: string) => void; label: string; placeholder?: string }) {
  const [text, setText] = useState(value);
  const debounced = useDebounced(text);
  useEffect(() => {
    if (debounced !== value) onSearch(debounced);
    // Only the settled text matters; `value` changing from outside resets the box below.
  }, [debounced]);
  useEffect(() => setText(value), [value]);
  return (
    <input
      type="search"
      className="search-input"
      aria-label={label}
      placeholder={placeholder ?? label}
      value={text}
      onChange={(event) => setText(event.target.value)}
    />
  );
}
