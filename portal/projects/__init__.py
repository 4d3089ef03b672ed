"""Projects and their members: the unit of ownership and access in Berth."""
