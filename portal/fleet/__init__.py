"""The fleet: hosts running Berth's agent, join tokens, and the containers the portal deploys on them."""
