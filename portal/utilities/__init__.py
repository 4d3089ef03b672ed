"""Generic helpers shared by every portal app; nothing here knows a model."""
