// Copies text to the clipboard and says so, for screen readers too.
import { useEffect, useState } from "react";

async function writeClipboard(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Plain-HTTP origins have no async clipboard; fall back to a selection copy below.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function CopyButton({ text, label = "Copy", className }: { text: string; label?: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className={`btn btn-ghost btn-sm copy-button ${className ?? ""}`}
      onClick={async () => {
        await writeClipboard(text);
        setCopied(true);
      }}
      aria-label={copied ? "Copied" : `${label}: ${text}`}
      title={label}
    >
      <span aria-live="polite">{copied ? "Copied" : label}</span>
    </button>
  );
}

/** A value shown in monospace with its copy button beside it (digests, pull commands, secrets). */
export function CopyField({ value, label = "Copy", display }: { value: string; label?: string; display?: string }) {
  return (
    <span className="copy-field">
      <code title={value}>{display ?? value}</code>
      <CopyButton text={value} label={label} />
    </span>
  );
}
