import { describe, expect, it } from "vitest";
import type { AuditEntry } from "@/api/types";
import { bucketByDay, lastDays } from "./api/activity";
import { storagePerProject } from "./routes/DashboardPage";

describe("dashboard figures", () => {
  it("charts the largest projects first, leaving out empty ones", () => {
    const projects = [
      { name: "a", size: 10 },
      { name: "b", size: 50 },
      { name: "empty", size: 0 },
      { name: "c", size: 45 },
    ];
    expect(storagePerProject(projects)).toEqual([
      { label: "b", value: 50 },
      { label: "c", value: 45 },
      { label: "a", value: 10 },
    ]);
    expect(storagePerProject(projects, 1)).toEqual([{ label: "b", value: 50 }]);
  });

  it("counts audit entries per day, with empty days at zero", () => {
    const days = lastDays(3, new Date("2026-11-27T12:00:00Z"));
    expect(days).toEqual(["2026-11-25", "2026-11-26", "2026-11-27"]);
    const entries = ["2026-11-25T01:00:00Z", "2026-11-27T08:00:00Z", "2026-11-27T09:00:00Z", "2026-11-20T00:00:00Z"].map((time) => ({ time }) as AuditEntry);
    expect(bucketByDay(entries, days)).toEqual([1, 0, 2]);
  });
});
