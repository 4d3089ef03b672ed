// A container's logs as they are written: newline-delimited JSON read from a streaming response.
import { API_ROOT, segment } from "@/api/client";

export interface LogLine {
  time?: string;
  stream?: string;
  log?: string;
  error?: { code: string; message: string };
}

export function parseLogChunk(buffer: string): { lines: LogLine[]; rest: string } {
  const parts = buffer.split("\n");
  const rest = parts.pop() ?? "";
  const lines: LogLine[] = [];
  for (const part of parts) {
    if (!part.trim()) continue;
    try {
      lines.push(JSON.parse(part) as LogLine);
    } catch {
      lines.push({ log: part });
    }
  }
  return { lines, rest };
}

/** Streams log lines to `onLines` until `signal` aborts or the container's log ends. */
export async function followLogs(project: string, container: string, onLines: (lines: LogLine[]) => void, signal: AbortSignal, tail = 200): Promise<void> {
  const response = await fetch(`${API_ROOT}/projects/${segment(project)}/containers/${segment(container)}/logs?follow=1&tail=${tail}`, {
    credentials: "same-origin",
    signal,
  });
  if (!response.ok || !response.body) {
    onLines([{ error: { code: `http_${response.status}`, message: `The logs could not be read (HTTP ${response.status}).` } }]);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const { lines, rest } = parseLogChunk(buffer);
    buffer = rest;
    if (lines.length > 0) onLines(lines);
  }
}
