"""Isolation building blocks a container is given: its network (bridge, veth, IPAM, published ports) and its named volumes."""
