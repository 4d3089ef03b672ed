"""Serves the browser UI: the built single-page app from frontend/dist."""
