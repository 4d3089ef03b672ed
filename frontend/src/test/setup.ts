// Test set-up: DOM matchers, and a clean DOM and fetch stub between tests.
import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  document.cookie = "berth_csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
});
