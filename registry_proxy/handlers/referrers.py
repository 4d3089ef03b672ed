"""`/v2/<name>/referrers/<digest>`: the OCI referrers API, from Berth's index (distribution 2.8 has none)."""

from __future__ import annotations

import json

from portal.artifacts.services import referrers as indexed_referrers
from portal.registry.distribution import OCI_INDEX
from registry_proxy.checks.valid_reference import valid_digest
from registry_proxy.plumbing import API_VERSION, Context, Send
from registry_proxy.proxy import Proxy


async def referrers(app: Proxy, context: Context, send: Send) -> None:
    digest = valid_digest(context.params["digest"])
    artifact_type = context.request.param("artifactType") or None
    descriptors = await app.run_sync(indexed_referrers, context.name, digest, artifact_type)
    headers = [(b"content-type", OCI_INDEX.encode())]
    if artifact_type:
        headers.append((b"oci-filters-applied", b"artifactType"))
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [API_VERSION, *headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
