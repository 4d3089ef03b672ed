"""The runtime API: containers from create to remove (api), copying files in and out (copy), the agent's settings."""
