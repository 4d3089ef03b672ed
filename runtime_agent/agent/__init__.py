"""The fleet agent: the runtime over signed HTTP, joined to a Berth portal and reporting to it."""
