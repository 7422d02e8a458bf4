"""What an operator sees of proof checks: the signals of :mod:`django_dpop.signals` and log lines.

Called by :mod:`django_dpop.proofs` (and the resource pipeline for its token validators). Both
halves cost nothing unless wanted: a signal's payload is built only when the signal has a
receiver, a log line only when logger ``django_dpop`` is enabled for its level.

Log levels (logger ``django_dpop``, docs/observability.md): a refusal that points at something
an operator can fix (``htu``/``htm``: a proxy or ``DPOP_HTU_BASE_URL``; ``iat``/``exp``/``nbf``: a
clock; ``alg``: ``DPOP_ALLOWED_ALGORITHMS``; ``replayed``) is INFO, every other refusal DEBUG
(clients without a nonce are routine: that is how they learn it). Log lines never hold the token,
the proof, the nonce or the key; values taken from the proof are cut short and quoted.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from django.http import HttpRequest

from .core.errors import DPoPError, StoreUnavailable
from .core.policy import ASYMMETRIC_ALGORITHMS
from .signals import proof_accepted, proof_rejected, store_failed


logger = logging.getLogger("django_dpop")

#: Reasons logged at INFO; every other refusal is logged at DEBUG.
INFO_REASONS: frozenset[str] = frozenset({"htu", "htm", "iat", "exp", "nbf", "alg", "replayed"})
#: JWS ``alg`` values reported as themselves (RFC 7518 §3.1, RFC 8037, RFC 9864); any other is "other".
KNOWN_ALGORITHMS: frozenset[str] = ASYMMETRIC_ALGORITHMS | {"none", "HS256", "HS384", "HS512"}
_MAX_PEEK = 16384  # characters of a proof worth decoding for a log line or a signal
_MAX_LOGGED = 200  # characters of a client-supplied value in a log line


def _segment(text: str) -> Any:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def peek(proof: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Best-effort header and claims of a refused proof, for signals and logs only (never trusted)."""
    if not isinstance(proof, str) or len(proof) > _MAX_PEEK or proof.count(".") != 2:
        return None, None
    header, payload, _signature = proof.split(".")
    return _segment(header), _segment(payload)


def label_alg(alg: Any) -> str | None:
    """A bounded ``alg`` value: the name when a specification defines it, else "other"."""
    if alg is None:
        return None
    return alg if isinstance(alg, str) and alg in KNOWN_ALGORITHMS else "other"


def iat_offset(claims: dict[str, Any] | None, now: float) -> float | None:
    iat = claims.get("iat") if claims else None
    if type(iat) not in (int, float) or iat != iat or abs(iat) > 1e12:  # NaN, absurd values
        return None
    return float(iat) - now


def _short(value: Any) -> str:
    """A client-supplied value fit for a log line: a string without query or fragment, quoted."""
    if not isinstance(value, str):
        return repr(type(value).__name__)
    value = value.split("?", 1)[0].split("#", 1)[0]
    return repr(value[:_MAX_LOGGED])


def _send(signal: Any, **payload: Any) -> None:
    # send_robust: a receiver that raises is logged by Django (logger django.dispatch, ERROR)
    # and can never change the answer to the request.
    signal.send_robust(sender=None, **payload)


def accepted(request: HttpRequest, endpoint: str, alg: str, iat: float, now: float) -> None:
    """A proof passed every check (a no-op without receivers)."""
    if proof_accepted.receivers and proof_accepted.has_listeners():
        _send(proof_accepted, request=request, endpoint=endpoint, alg=alg, iat_offset=iat - now)


def rejected(
    request: HttpRequest, endpoint: str, error: DPoPError, proof: str | None, now: float, expected_htu: Any
) -> None:
    """A proof was refused: signal, log line, and ``store_failed`` for a store's failure.

    ``expected_htu`` is a callable returning the server's own URI (called only to log an ``htu``
    refusal).
    """
    reason = getattr(error, "reason", "invalid")
    if isinstance(error, StoreUnavailable):
        failed_store(request, endpoint, error)
    signal = proof_rejected.receivers and proof_rejected.has_listeners()
    level = logging.INFO if reason in INFO_REASONS else logging.DEBUG
    log = logger.isEnabledFor(level)
    if not signal and not log:
        return
    header, claims = peek(proof)
    alg = label_alg(header.get("alg")) if header else None
    offset = iat_offset(claims, now)
    if signal:
        _send(
            proof_rejected,
            request=request,
            endpoint=endpoint,
            reason=reason,
            error=error.error,
            alg=alg,
            iat_offset=offset,
        )
    if log:
        _log_refusal(level, endpoint, error, reason, alg, offset, claims, request, expected_htu)


def _log_refusal(
    level: int,
    endpoint: str,
    error: DPoPError,
    reason: str,
    alg: str | None,
    offset: float | None,
    claims: dict[str, Any] | None,
    request: HttpRequest,
    expected_htu: Any,
) -> None:
    message = "DPoP proof refused: endpoint=%s reason=%s error=%s alg=%s"
    args: list[Any] = [endpoint, reason, error.error, alg]
    if offset is not None:
        message += " iat_offset=%.0fs"
        args.append(offset)
    if reason == "htu":
        try:
            from .core.htu import normalize_htu

            expected = normalize_htu(expected_htu())
        except Exception:  # the server's own URL should always normalise; never fail a log line
            expected = "?"
        message += " expected_htu=%r received_htu=%s"
        args += [expected, _short(claims.get("htu") if claims else None)]
    elif reason == "htm":
        message += " expected_htm=%r received_htm=%s"
        args += [request.method, _short(claims.get("htm") if claims else None)]
    logger.log(level, message, *args, extra={"dpop_endpoint": endpoint, "dpop_reason": reason})


def failed_store(request: HttpRequest | None, endpoint: str, error: StoreUnavailable) -> None:
    """``store_failed`` for a :class:`StoreUnavailable` (its cause names the exception class)."""
    if not (store_failed.receivers and store_failed.has_listeners()):
        return
    cause = error.__cause__ or error
    _send(
        store_failed,
        request=request,
        endpoint=endpoint,
        store=error.store or "unknown",
        exception_class=f"{type(cause).__module__}.{type(cause).__qualname__}",
    )
