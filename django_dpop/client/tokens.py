"""Reading a token response as a DPoP client (RFC 9449 §5, RFC 6749 §5.1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import TokenResponseError
from .proofs import check_access_token


def check_token_response(
    response: Mapping[str, Any] | str | bytes, *, require_dpop: bool = True
) -> dict[str, Any]:
    """Return a successful token response as a dict, after checking its ``token_type``.

    RFC 9449 §5: a client that requires DPoP-bound tokens MUST discard a response whose
    ``token_type`` is not ``DPoP`` (compared case-insensitively, RFC 6749 §5.1); with
    ``require_dpop=True`` (the default) that raises :class:`TokenResponseError`, and so does a
    response without a usable ``access_token``. With ``require_dpop=False`` a ``Bearer`` token is
    accepted too (the server chose not to bind it). Messages never contain the token.
    """
    if isinstance(response, bytes | str):
        try:
            response = json.loads(response)
        except (ValueError, RecursionError):
            raise TokenResponseError("the token response is not JSON") from None
    if not isinstance(response, Mapping):
        raise TokenResponseError("the token response is not a JSON object")
    data = dict(response)
    if "error" in data:
        raise TokenResponseError(f"the token endpoint returned an error: {str(data['error'])[:100]!r}")
    try:
        check_access_token(data.get("access_token"))
    except ValueError:
        raise TokenResponseError("the token response has no usable access_token") from None
    token_type = data.get("token_type")
    if not isinstance(token_type, str):
        raise TokenResponseError("the token response has no token_type")
    if require_dpop and token_type.lower() != "dpop":
        raise TokenResponseError(
            f"the token response has token_type {token_type[:20]!r}, not 'DPoP': the server did not bind "
            "the token to the DPoP key (RFC 9449 §5)"
        )
    if token_type.lower() not in ("dpop", "bearer"):
        raise TokenResponseError(f"unsupported token_type {token_type[:20]!r}")
    return data


__all__ = ["check_token_response"]
