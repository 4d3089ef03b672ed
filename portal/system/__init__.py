"""System-wide concerns: settings, health, metrics, search and information about this Berth."""
