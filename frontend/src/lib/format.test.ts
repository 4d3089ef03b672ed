import { describe, expect, it } from "vitest";
import { formatBytes, formatRelative, plural, shortDigest } from "./format";

describe("formatting", () => {
  it("writes sizes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatBytes(null)).toBe("—");
  });

  it("shortens a digest to its first twelve hex characters", () => {
    expect(shortDigest("sha256:0123456789abcdef0123")).toBe("0123456789ab");
  });

  it("says how long ago, or never", () => {
    const now = new Date("2026-11-27T12:00:00Z");
    expect(formatRelative("2026-11-27T10:00:00Z", now)).toBe("2 hours ago");
    expect(formatRelative(null, now)).toBe("never");
    expect(formatRelative("2026-11-27T11:59:58Z", now)).toBe("just now");
  });

  it("pluralises counts", () => {
    expect(plural(1, "tag")).toBe("1 tag");
    expect(plural(100000, "tag")).toBe("100,000 tags");
    expect(plural(2, "repository", "repositories")).toBe("2 repositories");
  });
});
