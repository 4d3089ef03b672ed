"""The audit log: who did what to which resource, from where, and whether it worked."""
