"""A manifest pushed by tag must not move a tag an immutability rule protects; pushing its digest again is fine.

The rule and the tag's digest are known from the path, but the pushed digest only once the body is read, which
is the manifest handler's job: this check looks the protection up before the handler runs (one indexed query,
none of the body read twice) and leaves the handler a body check that compares digests before distribution
sees the manifest. The index's tag-setting service refuses the move again inside its transaction.
"""

from __future__ import annotations

import hashlib

from portal.policies.guards import tag_protection
from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def immutable_tag(app: Proxy, context: Context) -> None:
    reference = context.params.get("reference", "")
    if ":" in reference:
        return  # by digest: no tag moves
    protection = await app.run_sync(tag_protection, context.name, reference)
    if protection is None:
        return
    current, message = protection
    algorithm = current.split(":", 1)[0]

    def same_digest(body: bytes) -> None:
        if algorithm not in hashlib.algorithms_available or \
                f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}" != current:
            raise errors.denied(message)

    context.body_checks.append(same_digest)
