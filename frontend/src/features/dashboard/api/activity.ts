// Pushes and pulls per day over recent days, counted from the audit log (pulls are recorded sampled).
import { useQuery } from "@tanstack/react-query";
import type { AuditEntry } from "@/api/types";
import { listAuditLog } from "@/features/audit/api/listAuditLog";

export interface Activity {
  days: string[];
  pushes: number[];
  pulls: number[];
  truncated: boolean;
}

const dayOf = (date: Date) => date.toISOString().slice(0, 10);

export function bucketByDay(entries: AuditEntry[], days: string[]): number[] {
  const counts = new Map(days.map((day) => [day, 0]));
  for (const entry of entries) {
    const day = entry.time.slice(0, 10);
    if (counts.has(day)) counts.set(day, counts.get(day)! + 1);
  }
  return days.map((day) => counts.get(day)!);
}

export function lastDays(count: number, now = new Date()): string[] {
  return Array.from({ length: count }, (_, index) => dayOf(new Date(now.getTime() - (count - 1 - index) * 86_400_000)));
}

export async function getActivity(dayCount: number): Promise<Activity> {
  const days = lastDays(dayCount);
  const from = `${days[0]}T00:00:00Z`;
  const [pushes, pulls] = await Promise.all([
    listAuditLog(undefined, { action: "push", from, page_size: 1000, sort: "-time" }),
    listAuditLog(undefined, { action: "pull", from, page_size: 1000, sort: "-time" }),
  ]);
  return {
    days,
    pushes: bucketByDay(pushes.results, days),
    pulls: bucketByDay(pulls.results, days),
    truncated: pushes.count > pushes.results.length || pulls.count > pulls.results.length,
  };
}

export function useActivity(dayCount: number, enabled: boolean) {
  return useQuery({ queryKey: ["audit", "activity", dayCount], queryFn: () => getActivity(dayCount), enabled, staleTime: 60_000 });
}
