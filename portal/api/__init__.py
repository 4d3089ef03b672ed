"""What every app's API shares: the base of project-scoped views and DRF's exception handler.

It sits above the apps' services (the handler audits refusals) and below each app's `api/`.
"""
