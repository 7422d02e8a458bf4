"""RFC 9728 protected resource metadata: the document and where it lives (no Django).

Both views (the one of the base app and the DOT one) build their document here, so the DPoP
members come from one place: ``dpop_signing_alg_values_supported`` is the proof algorithm
allowlist the verifier enforces, ``dpop_bound_access_tokens_required`` is true exactly when
Bearer tokens are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
# RFC 9728 §2: the only way this library reads an access token is the Authorization header
# (RFC 6750 §2.1, RFC 9449 §7.1); the form-body and query methods are never accepted.
BEARER_METHODS = ("header",)


def resource_identifier_error(resource: str) -> str | None:
    """Why ``resource`` is no valid resource identifier (RFC 9728 §1.2), or None.

    An absolute ``https`` URL with a host and no fragment; a query is allowed but discouraged.
    """
    if not isinstance(resource, str) or not resource:
        return "it must be a non-empty string"
    try:
        parts = urlsplit(resource)
    except ValueError as exc:
        return f"it is no URL ({exc})"
    if parts.scheme != "https":
        return "it must use the https scheme"
    if not parts.hostname:
        return "it must have a host"
    if parts.fragment or "#" in resource:
        return "it must not contain a fragment"
    if parts.username is not None or parts.password is not None:
        return "it must not contain user information"
    return None


def metadata_url(resource: str) -> str:
    """Return the URL of the metadata document of ``resource`` (RFC 9728 §3.1).

    The well-known suffix goes between the host and the path; a terminating slash after the host
    is dropped first: ``https://api.example.com/v1`` ->
    ``https://api.example.com/.well-known/oauth-protected-resource/v1``.
    """
    parts = urlsplit(resource)
    path = parts.path if parts.path != "/" else ""
    url = f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PATH}{path}"
    return f"{url}?{parts.query}" if parts.query else url


def metadata_path(resource: str) -> str:
    """The path component of :func:`metadata_url` (what a request for the document names)."""
    return urlsplit(metadata_url(resource)).path


def resource_from_metadata_url(url: str) -> str:
    """The inverse of :func:`metadata_url`: the resource a document URL stands for (RFC 9728 §3.1)."""
    parts = urlsplit(url)
    prefix, _, suffix = parts.path.partition(WELL_KNOWN_PATH)
    path = prefix.rstrip("/") + ("/" + suffix.strip("/") if suffix.strip("/") else "")
    return f"{parts.scheme}://{parts.netloc}{path}"


def protected_resource_metadata(
    *,
    resource: str,
    authorization_servers: Iterable[str] = (),
    algorithms: Iterable[str],
    bearer_tokens_accepted: bool,
    scopes_supported: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Return the RFC 9728 §2 document of a DPoP protected resource.

    ``resource`` (REQUIRED) is returned as given: §3.3 asks the client to compare it with the
    identifier it derived the document URL from. ``dpop_signing_alg_values_supported`` and
    ``dpop_bound_access_tokens_required`` are the DPoP members of §2.
    """
    data: dict[str, Any] = {"resource": resource}
    servers = list(authorization_servers)
    if servers:
        data["authorization_servers"] = servers
    if scopes_supported is not None:
        data["scopes_supported"] = list(scopes_supported)
    data["bearer_methods_supported"] = list(BEARER_METHODS)
    data.update(dpop_metadata(algorithms=algorithms, bearer_tokens_accepted=bearer_tokens_accepted))
    return data


def dpop_metadata(*, algorithms: Iterable[str], bearer_tokens_accepted: bool) -> dict[str, Any]:
    """The DPoP members of RFC 9728 §2 (also added to DOT's document)."""
    return {
        "dpop_signing_alg_values_supported": list(algorithms),
        "dpop_bound_access_tokens_required": not bearer_tokens_accepted,
    }
