"""The resource-side pipeline shared by every adapter (DRF, plain Django views, DOT's own surfaces).

It knows nothing about where access tokens come from: it parses ``Authorization``, verifies the
``DPoP`` proof, then hands the raw token to the access-token validators
(:mod:`django_dpop.tokens`, setting ``DPOP_TOKEN_VALIDATORS``) and checks the binding they report.

A request with ``Authorization: DPoP <token>`` is accepted only when (RFC 9449 §7.1) the proof
passes every check of §4.3 for this request and this token (``ath``, nonce, replay), a validator
vouches for the token, and the token is bound to the key that signed the proof (§4.3 check 12b,
§6). A Bearer token (RFC 6750) is accepted only while ``DPOP_ALLOW_BEARER_TOKENS`` and only when
it is not DPoP-bound (§7.2).

Order matters for cost and for information leaks: the header is parsed first (no I/O), then the
proof is verified (signature, then the nonce and replay stores), and only then are the validators
asked. A request with a broken proof therefore never reaches a validator (no token query, no
network call) and never learns whether the token exists.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from . import events
from .conf import conf, token_validators
from .core.binding import jkt_matches
from .core.challenge import build_challenge
from .core.errors import DPoPError, InvalidRequest, InvalidToken, StoreUnavailable, UseDPoPNonce
from .core.proof import VerifiedProof
from .http import get_proof
from .proofs import RESOURCE, response_nonce, verify_request_proof
from .signals import ENDPOINT_RESOURCE
from .tokens.base import AccessTokenValidator, ValidatedToken


logger = logging.getLogger("django_dpop")

AUTHORIZATION_HEADER = "HTTP_AUTHORIZATION"
DPOP_SCHEME = "dpop"
BEARER_SCHEME = "bearer"

# RFC 9110 §11.2: auth-scheme = token, then 1*SP and the credentials.
_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?", re.DOTALL)
# RFC 9110 §11.2 token68, the only credentials syntax of RFC 6750 §2.1 and RFC 9449 §7.1.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_OUR_SCHEMES = frozenset({DPOP_SCHEME, BEARER_SCHEME})

#: ``validators`` arguments: None for ``DPOP_TOKEN_VALIDATORS``, else entries of the same kind.
Validators = Sequence[Any] | None


class InvalidBearerToken(InvalidToken):
    """A Bearer token was refused: the challenge goes on the ``Bearer`` scheme (RFC 6750 §3)."""

    default_description = "The access token is invalid"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The access token of an ``Authorization`` header and its scheme (lower-cased)."""

    scheme: str
    token: str


def get_authorization(request: HttpRequest) -> Credentials | None:
    """Parse ``Authorization`` into a :class:`Credentials`, or None for no header or another scheme.

    The scheme compares case-insensitively (RFC 9110 §11.1). Servers fold repeated header lines
    into one comma-separated value, and a token68 never contains a comma, so a comma next to a
    ``DPoP`` or ``Bearer`` credential means several authentication methods: ``InvalidRequest``
    (RFC 6750 §3.1, RFC 9449 §7.2). A ``DPoP``/``Bearer`` header whose credentials are not a
    token68 is malformed: ``InvalidRequest`` as well. Other schemes (Basic, Digest...) are left
    to other authenticators.
    """
    header = request.META.get(AUTHORIZATION_HEADER)
    if not header:
        return None
    if "," in header:
        # Digest and friends legitimately contain commas; refuse only when one of the parts is
        # one of ours, so that "Bearer a, DPoP b" cannot pick whichever the server reads first.
        for part in header.split(","):
            match = _CREDENTIALS.fullmatch(part.strip())
            if match is not None and match.group(1).lower() in _OUR_SCHEMES:
                raise InvalidRequest("Several Authorization credentials")
        return None
    match = _CREDENTIALS.fullmatch(header.strip())
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme not in _OUR_SCHEMES:
        return None
    token = match.group(2)
    if token is None or _TOKEN68.fullmatch(token) is None:
        raise InvalidRequest("Malformed access token in the Authorization header")
    return Credentials(scheme=scheme, token=token)


def _resolve(validators: Validators) -> Sequence[AccessTokenValidator]:
    """The validator instances to ask; a broken configuration fails closed (503, logged)."""
    try:
        return token_validators(validators)
    except Exception as exc:  # ImportError, TypeError: system check django_dpop.E017
        logger.exception("DPOP_TOKEN_VALIDATORS cannot be loaded")
        raise StoreUnavailable("Access token validation is unavailable") from exc


def validate_token(
    request: HttpRequest, token: str, *, scheme: str, validators: Validators = None
) -> ValidatedToken:
    """Ask the validators in order; the first answer that is not None wins.

    None from every validator: ``InvalidToken`` (``InvalidBearerToken`` for the Bearer scheme).
    A validator's ``DPoPError`` (``InvalidToken``, ``StoreUnavailable``) propagates; any other
    exception, or an answer that is not a :class:`ValidatedToken`, fails closed as
    ``StoreUnavailable`` (503, logged, signal ``store_failed`` with ``store="token"``): never a
    500 and never an acceptance.
    """
    try:
        return _validate_token(request, token, scheme=scheme, validators=validators)
    except StoreUnavailable as exc:
        if exc.store is None:
            exc.store = "token"
        events.failed_store(request, ENDPOINT_RESOURCE, exc)
        raise


def _validate_token(
    request: HttpRequest, token: str, *, scheme: str, validators: Validators = None
) -> ValidatedToken:
    for validator in _resolve(validators):
        try:
            result = validator.validate(request, token, scheme=scheme)
        except DPoPError:
            raise
        except Exception as exc:
            logger.exception("Access-token validator %s failed", type(validator).__qualname__)
            raise StoreUnavailable("Access token validation is unavailable") from exc
        if result is None:
            continue
        if not isinstance(result, ValidatedToken):
            logger.error("Access-token validator %s answered %r", type(validator).__qualname__, result)
            raise StoreUnavailable("Access token validation is unavailable")
        return result
    if scheme == BEARER_SCHEME:
        raise InvalidBearerToken()
    raise InvalidToken("The access token is invalid or expired")


def verify_dpop_token(
    request: HttpRequest, token: str, validators: Validators = None
) -> tuple[ValidatedToken, VerifiedProof]:
    """Verify the proof of ``request`` for ``token``, then the token: ``(validated, proof)``.

    RFC 9449 §7.1: every check of §4.3 including ``ath`` (check 12a), the nonce and replay, and
    only then the validators; the token must be bound (§7.1: a DPoP scheme with an unbound token
    is refused) to the key of the proof (check 12b, §6, constant-time).
    """
    proof = verify_request_proof(request, purpose=RESOURCE, access_token=token)
    validated = validate_token(request, token, scheme=DPOP_SCHEME, validators=validators)
    if validated.jkt is None:
        logger.debug("DPoP request refused: endpoint=resource reason=unbound_token error=invalid_token")
        raise InvalidToken("The access token is not DPoP-bound")
    if not jkt_matches(validated.jkt, proof.jkt):
        # RFC 9449 §4.3 check 12b: the proof itself was good (proof_accepted was sent).
        logger.info("DPoP request refused: endpoint=resource reason=binding error=invalid_token")
        raise InvalidToken("Invalid DPoP key binding")
    return validated, proof


def check_bearer_request(request: HttpRequest) -> None:
    """Refuse what is wrong with a ``Bearer`` request before its token is looked at.

    A ``DPoP`` proof beside a Bearer token is refused (``InvalidRequest``, as node-oidc-provider
    does): the client holds a key, so the token may be bound, and the request is ambiguous.
    With ``DPOP_ALLOW_BEARER_TOKENS = False`` every Bearer token is refused (``InvalidToken``).
    """
    if get_proof(request) is not None:
        raise InvalidRequest("A DPoP proof was sent with a Bearer access token")
    if not conf.DPOP_ALLOW_BEARER_TOKENS:
        raise InvalidToken("Bearer access tokens are not accepted; use DPoP")


def refuse_bound_bearer(validated: ValidatedToken) -> None:
    """RFC 9449 §7.2: a DPoP-bound token presented as Bearer MUST be refused (downgrade)."""
    if validated.jkt is not None:
        raise InvalidToken("DPoP-bound access token presented as Bearer")


def verify_bearer_token(request: HttpRequest, token: str, validators: Validators = None) -> ValidatedToken:
    """Validate a Bearer token (RFC 6750): the request checks, the validators, the downgrade check.

    The downgrade check runs on whatever the validator answered, so it holds whichever validator
    (and, for DOT, whichever ``OAUTH2_VALIDATOR_CLASS``) the host runs.
    """
    check_bearer_request(request)
    validated = validate_token(request, token, scheme=BEARER_SCHEME, validators=validators)
    refuse_bound_bearer(validated)
    return validated


@dataclass(frozen=True, slots=True)
class ResourceAccess:
    """What an accepted request was authenticated with; ``proof`` is None for a Bearer token."""

    token: ValidatedToken
    proof: VerifiedProof | None

    @property
    def auth(self) -> Any:
        """What becomes ``request.auth`` (DOT's ``AccessToken``, or a ``TokenClaims``)."""
        return self.token.auth

    @property
    def user(self) -> Any:
        """The resource owner, None for none (client credentials, unmapped ``sub``)."""
        return self.token.user


def authenticate_resource_request(
    request: HttpRequest, validators: Validators = None
) -> ResourceAccess | None:
    """Authenticate a plain Django request with a DPoP (or, if allowed, Bearer) access token.

    Returns None when the request carries no DPoP or Bearer credentials; raises the core's errors
    (and :class:`InvalidBearerToken`) for any credentials it refuses.
    """
    credentials = get_authorization(request)
    if credentials is None:
        return None
    if credentials.scheme == DPOP_SCHEME:
        validated, proof = verify_dpop_token(request, credentials.token, validators)
        return ResourceAccess(validated, proof)
    return ResourceAccess(verify_bearer_token(request, credentials.token, validators), None)


def error_status(error: DPoPError) -> int:
    """HTTP status of a refusal at a protected resource.

    RFC 6750 §3.1: ``invalid_request`` is a 400, ``invalid_token`` a 401; RFC 9449 §7.1 and §9:
    ``invalid_dpop_proof`` and ``use_dpop_nonce`` are 401. A failing store is a 503 (fail closed).
    """
    if isinstance(error, StoreUnavailable):
        return 503
    if isinstance(error, InvalidRequest):
        return 400
    return 401


def retry_after() -> str:
    """The ``Retry-After`` value of a 503 (RFC 9110 §10.2.3): ``DPOP_RETRY_AFTER`` seconds."""
    return str(int(conf.DPOP_RETRY_AFTER))


def challenges(
    error: DPoPError | None = None, *, bearer: bool | None = None, realm: str | None = None
) -> str:
    """Return the ``WWW-Authenticate`` value for a refusal (or for no credentials at all).

    Always a ``DPoP`` challenge with ``algs`` (RFC 9449 §7.1), with ``error`` when the failure was
    on that scheme. A ``Bearer`` challenge follows (RFC 9449 §7.2) when Bearer tokens are accepted
    (``bearer`` defaults to ``DPOP_ALLOW_BEARER_TOKENS``), carrying the error of a refused Bearer
    token. With no credentials neither challenge has an error code (RFC 6750 §3.1). With
    ``DPOP_RESOURCE_METADATA_URL`` each challenge points at the resource's metadata document
    (``resource_metadata``, RFC 9728 §5.1).
    """
    if bearer is None:
        bearer = conf.DPOP_ALLOW_BEARER_TOKENS
    algs = conf.DPOP_ALLOWED_ALGORITHMS
    metadata = conf.DPOP_RESOURCE_METADATA_URL or None
    if error is None or isinstance(error, InvalidBearerToken):
        dpop = build_challenge("DPoP", algs=algs, resource_metadata=metadata)
    else:
        dpop = build_challenge(
            "DPoP",
            algs=algs,
            error=error.error,
            error_description=error.description,
            resource_metadata=metadata,
        )
    if not bearer:
        return dpop
    if isinstance(error, InvalidBearerToken):
        return f"{dpop}, " + build_challenge(
            "Bearer",
            realm=realm,
            error=error.error,
            error_description=error.description,
            resource_metadata=metadata,
        )
    return f"{dpop}, " + build_challenge("Bearer", realm=realm, resource_metadata=metadata)


def success_nonce(request: HttpRequest, proof: VerifiedProof | None) -> str | None:
    """The ``DPoP-Nonce`` of an accepted request (RFC 9449 §8.2, §9), or None.

    A newer nonce when the one used is about to expire; with ``DPOP_NONCE_ON_EVERY_RESPONSE``,
    the current one whenever the request carried a proof. Raises :class:`StoreUnavailable`.
    """
    if proof is not None and not proof.nonce_stale and not conf.DPOP_NONCE_ON_EVERY_RESPONSE:
        return None  # the common case, without response_nonce's steps
    return response_nonce(request, RESOURCE, proof)


def refusal_nonce(request: HttpRequest, error: DPoPError | None) -> str | None:
    """The ``DPoP-Nonce`` of a refusal: the challenge's own (``use_dpop_nonce``), else, with
    ``DPOP_NONCE_ON_EVERY_RESPONSE`` and a proof on the request, the current one. None when the
    store failed (the refusal stands without it)."""
    if isinstance(error, UseDPoPNonce):
        return error.nonce
    if isinstance(error, StoreUnavailable):
        return None
    try:
        return response_nonce(request, RESOURCE)
    except StoreUnavailable:
        logger.warning("DPoP nonce store unavailable; no DPoP-Nonce on this refusal")
        return None
