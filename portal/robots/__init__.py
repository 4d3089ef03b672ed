"""Robot accounts: non-human principals with an explicit permission list."""
