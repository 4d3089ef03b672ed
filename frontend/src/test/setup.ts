// Test set-up: DOM matchers, and a clean DOM and fetch stub between tests.
import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach, vi } from "vitest";

// findBy* waits this long for the UI to settle: generous, since CI shares two cores with other suites.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  document.cookie = "berth_csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
});
