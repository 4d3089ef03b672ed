"""Berth's container runtime and fleet agent, in layers that import downwards only: kernel → isolation → images → container → runtime → agent → cli."""
