"""One container: its spec and validation, its state table, its first process, the shim that supervises it, the zygote that forks shims, health checks, attach, processes entering it."""
