"""The `/v2/` registry API and `/service/token` in front of distribution, as a pipeline of layers.

`asgi` (the process's entry) → `app` (the ASGI app) → `routes` (the table: methods, pattern, checks,
handler) → `handlers/` (one module per resource) → `checks/` (one module per check) → `proxy` (the
streaming proxy and the state every step shares) → `plumbing`, `caches`, `pulls` → `errors`.
The distribution client and the token issuer live below, in `portal.registry`, shared with the portal.
"""
