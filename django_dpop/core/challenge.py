"""``WWW-Authenticate: DPoP`` challenges (RFC 9449 §7.1, §7.2, §9)."""

from __future__ import annotations

import re
from collections.abc import Iterable


# Everything but printable ASCII and space: control characters (CR and LF among them) could split
# or inject a header; non-ASCII would make Django MIME-encode the whole header value, and RFC 6750
# §3 / RFC 6749 §5.2 allow printable ASCII only in these parameters anyway.
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def quote(value: str) -> str:
    """Return ``value`` as an RFC 9110 §5.6.4 quoted-string.

    Backslash and double quote are escaped; control characters (CR and LF among them) and
    non-ASCII characters are dropped, so that no value can split or inject a header.
    """
    value = _UNSAFE.sub("", value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_challenge(
    scheme: str = "DPoP",
    *,
    algs: Iterable[str] | None = None,
    error: str | None = None,
    error_description: str | None = None,
    realm: str | None = None,
    scope: str | None = None,
    resource_metadata: str | None = None,
) -> str:
    """Return one challenge, e.g. ``DPoP error="invalid_token", algs="ES256 PS256"``.

    RFC 9449 §7.1: ``algs`` lists the accepted proof algorithms, ``error`` is one of the RFC 6750
    §3.1 codes or ``invalid_dpop_proof`` / ``use_dpop_nonce``. With no parameter at all the bare
    scheme is returned (``Bearer``, as in §7.2's double challenge). ``resource_metadata`` is the
    URL of the resource's RFC 9728 metadata document (RFC 9728 §5.1).
    """
    params: list[str] = []
    if realm is not None:
        params.append(f"realm={quote(realm)}")
    if error is not None:
        params.append(f"error={quote(error)}")
    if error_description is not None:
        params.append(f"error_description={quote(error_description)}")
    if scope is not None:
        params.append(f"scope={quote(scope)}")
    if algs is not None:
        params.append(f"algs={quote(' '.join(algs))}")
    if resource_metadata is not None:
        params.append(f"resource_metadata={quote(resource_metadata)}")
    return f"{scheme} {', '.join(params)}" if params else scheme
