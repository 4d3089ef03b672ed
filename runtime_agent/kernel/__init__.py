"""Kernel primitives: syscalls, mounts and namespaces (linux), seccomp filters, paths resolved inside a root (pathrs), cgroups v1/v2, user-namespace id maps, files written whole."""
