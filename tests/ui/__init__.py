"""End-to-end tests of the browser UI in headless Chromium against the real portal."""
