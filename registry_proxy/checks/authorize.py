"""The caller's grants allow the route's action on the repository or the catalog; refused writes are audited."""

from __future__ import annotations

from portal.audit.models import Outcome
from portal.audit.services import record
from portal.projects.models import Project
from portal.registry.tokens import TokenPrincipal
from registry_proxy import errors
from registry_proxy.checks.authenticate import route_scope
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def authorize(app: Proxy, context: Context) -> None:
    principal = context.principal
    assert principal is not None
    needs = context.needs
    if needs is None:
        return
    if needs == "catalog":
        if principal.allows("registry", "catalog", "*"):
            return
        kind, name, action = "registry", "catalog", "*"
    else:
        kind, name, action = "repository", context.name, needs
        if principal.allows(kind, name, action):
            return
    scope = route_scope(context)
    holds_repository = not principal.is_anonymous_subject and (principal.request_scoped
                                                                or principal.has_entry(kind, name))
    # The same words whether the project is missing or private: a stranger must not learn its name exists.
    message = (f"{principal.audit_name} may not {action} repository {name} "
               "(it does not exist, or you have no access to it)")
    if action in ("push", "delete") and holds_repository:
        # A refused write is audited, as the API audits its own; refused reads are not (clients probe freely).
        await app.run_sync(_record_refused_write, principal, action, name, message, context.request.client_ip)
    if not principal.request_scoped:
        # A bearer token holds only the scopes it was issued for: as distribution does, the client is told
        # which scope to ask for (a pull-only token pushing asks again, for push), not refused for good.
        wanted = f"this token does not grant {action} on {kind} {name}" if holds_repository else (
            f"authentication required to {action} {kind} {name}")
        raise errors.unauthorized(wanted, app.challenge(scope, "insufficient_scope"))
    if needs == "catalog":
        raise errors.denied(f"{principal.audit_name} may not list the catalog: administrators only")
    raise errors.denied(message)


def _record_refused_write(principal: TokenPrincipal, action: str, repository: str, message: str,
                          source_ip: str | None) -> None:
    project = Project.objects.filter(name=repository.split("/", 1)[0]).first()
    record(principal, action, "repository", repository, project=project, outcome=Outcome.DENIED,
           source_ip=source_ip, detail={"message": message})
