"""Resource-side DPoP checks shared by every adapter (DRF, plain Django views, DOT's own surfaces).

A request to a protected resource with ``Authorization: DPoP <token>`` is accepted only when
(RFC 9449 §7.1) the ``DPoP`` proof passes every check of §4.3 for this request and this token
(``ath``, nonce, replay), the token is known and valid, and the token is bound to the key that
signed the proof (§4.3 check 12b, §6).

Order matters for cost and for information leaks: the header is parsed first (no I/O), then the
proof is verified (signature, then the nonce and replay stores), and only then is the token looked
up, in one query that also brings its application, user and binding. A request with a broken
proof therefore never touches the token table and never learns whether the token exists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from oauth2_provider.models import AbstractApplication, get_access_token_model
from oauth2_provider.settings import oauth2_settings

from ...conf import conf
from ...core.binding import jkt_matches
from ...core.challenge import build_challenge
from ...core.errors import DPoPError, InvalidRequest, InvalidToken, StoreUnavailable
from ...core.proof import VerifiedProof
from ...http import expected_htu, get_proof
from ...proofs import RESOURCE, verify_request_proof
from .token_lookup import BINDING_JKT_ATTRIBUTE, find_access_token


AUTHORIZATION_HEADER = "HTTP_AUTHORIZATION"
DPOP_SCHEME = "dpop"
BEARER_SCHEME = "bearer"

# RFC 9110 §11.2: auth-scheme = token, then 1*SP and the credentials.
_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?", re.DOTALL)
# RFC 9110 §11.2 token68, the only credentials syntax of RFC 6750 §2.1 and RFC 9449 §7.1.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_OUR_SCHEMES = frozenset({DPOP_SCHEME, BEARER_SCHEME})
# Use the token lookup compiled once (True) or the plain ORM query (False, for comparison).
COMPILED_LOOKUP = True
_NOT_LOADED = object()


class InvalidBearerToken(InvalidToken):
    """DOT's validator refused a Bearer token: the challenge goes on the ``Bearer`` scheme."""

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


def token_checksum(token: str) -> str:
    """Return the SHA-256 hex digest DOT stores in ``AccessToken.token_checksum``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_access_token(token: str) -> Any | None:
    """Return the access token with its application, user and binding (one query), or None.

    The same lookup as DOT's ``OAuth2Validator._load_access_token`` plus ``dpop_binding``, so
    that checking the key binding costs no second query; its SQL is compiled once
    (:mod:`.token_lookup`) rather than on every request.
    """
    return find_access_token(get_access_token_model(), token_checksum(token), compiled=COMPILED_LOOKUP)


def binding_jkt(access_token: Any) -> str | None:
    """Return the thumbprint ``access_token`` is bound to (RFC 9449 §6), or None if unbound.

    Free when the token was loaded by :func:`load_access_token`; one query otherwise.
    """
    # Set by the token lookup, bound or not (None), so an unbound token costs no second query.
    loaded = access_token.__dict__.get(BINDING_JKT_ATTRIBUTE, _NOT_LOADED)
    if loaded is not _NOT_LOADED:
        return loaded
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    binding = getattr(access_token, "dpop_binding", None)
    return binding.jkt if binding is not None else None


def _introspect(token: str) -> Any | None:
    """Ask the authorization server, as DOT's validator does when the token is not known here.

    The configured validator (DOT helper: ``DPoPValidatorMixin``) caches the token locally and
    keeps the ``cnf.jkt`` of the introspection response as its binding (RFC 9449 §6.2).
    """
    url = oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL
    bearer = oauth2_settings.RESOURCE_SERVER_AUTH_TOKEN
    credentials = oauth2_settings.RESOURCE_SERVER_INTROSPECTION_CREDENTIALS
    if not url or not (bearer or credentials):
        return None
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    return validator._get_token_from_authentication_server(token, url, bearer, credentials)


def get_valid_access_token(request: HttpRequest, token: str) -> Any:
    """Return the valid access token for ``token`` or raise :class:`InvalidToken`.

    The checks of DOT's ``validate_bearer_token`` for a resource request: known (locally or by
    introspection), not expired, allowed for this resource (RFC 8707) and of a usable client.
    """
    access_token = load_access_token(token)
    if access_token is None or not access_token.is_valid():
        # Like DOT: a token unknown here, or an expired cached copy, is introspected again.
        access_token = _introspect(token) or access_token
    if access_token is None or not access_token.is_valid():
        raise InvalidToken("The access token is invalid or expired")
    # RFC 8707: the resource is the URI the client addressed, the one a proof's htu names.
    if access_token.resource and not access_token.allows_audience(expected_htu(request)):
        raise InvalidToken("The access token is not valid for this resource")
    application = access_token.application
    if application is not None and not _is_usable(application, request):
        raise InvalidToken("The access token is invalid")
    return access_token


def _is_usable(application: Any, request: HttpRequest) -> bool:
    """DOT's ``Application.is_usable``, called as DOT's ``validate_bearer_token`` calls it.

    Its argument is an oauthlib request (a host's override may read ``uri`` or ``headers``), so
    one is built, only when the method is overridden: DOT's own always answers True.
    """
    if getattr(type(application), "is_usable", None) is AbstractApplication.is_usable:
        return True
    from oauth2_provider.oauth2_backends import get_oauthlib_core
    from oauthlib.common import Request as OAuthlibRequest

    uri, http_method, body, headers = get_oauthlib_core()._extract_params(request)
    return bool(application.is_usable(OAuthlibRequest(uri, http_method, body, headers)))


def verify_dpop_token(request: HttpRequest, token: str) -> tuple[Any, VerifiedProof]:
    """Verify the proof of ``request`` for ``token`` and return ``(access_token, proof)``.

    RFC 9449 §7.1: every check of §4.3 including ``ath`` (check 12a), the nonce and replay, then
    the token, which must be bound (§7.1: a DPoP scheme with an unbound token is refused) to the
    key of the proof (check 12b, constant-time).
    """
    proof = verify_request_proof(request, purpose=RESOURCE, access_token=token)
    access_token = get_valid_access_token(request, token)
    jkt = binding_jkt(access_token)
    if jkt is None:
        raise InvalidToken("The access token is not DPoP-bound")
    if not jkt_matches(jkt, proof.jkt):
        raise InvalidToken("Invalid DPoP key binding")
    return access_token, proof


def authenticate_dpop_request(request: HttpRequest) -> tuple[Any, VerifiedProof]:
    """Authenticate a request made with ``Authorization: DPoP <token>``: ``(access_token, proof)``.

    Raises the core's errors: :class:`InvalidRequest` (no DPoP credentials, several, malformed),
    :class:`InvalidDPoPProof`, :class:`UseDPoPNonce` (``.nonce`` holds the nonce to send),
    :class:`InvalidToken` or :class:`StoreUnavailable`.
    """
    credentials = get_authorization(request)
    if credentials is None or credentials.scheme != DPOP_SCHEME:
        raise InvalidRequest("No DPoP access token in the Authorization header")
    return verify_dpop_token(request, credentials.token)


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


def refuse_bound_bearer(access_token: Any) -> None:
    """RFC 9449 §7.2: a DPoP-bound token presented as Bearer MUST be refused (downgrade)."""
    if binding_jkt(access_token) is not None:
        raise InvalidToken("DPoP-bound access token presented as Bearer")


def authenticate_bearer_request(request: HttpRequest) -> Any:
    """Validate a Bearer request through DOT's configured backend; return the access token.

    DOT does the work (so a host's validator applies); the downgrade check runs after it, so it
    holds even when the host did not install the DOT helper's validator mixin.
    """
    from oauth2_provider.oauth2_backends import get_oauthlib_core

    check_bearer_request(request)
    valid, oauthlib_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        error = getattr(oauthlib_request, "oauth2_error", None) or {}
        description = error.get("error_description")
        raise InvalidBearerToken(str(description) if description else None)
    access_token = oauthlib_request.access_token
    refuse_bound_bearer(access_token)
    return access_token


@dataclass(frozen=True, slots=True)
class ResourceAccess:
    """What an accepted request was authenticated with; ``proof`` is None for a Bearer token."""

    access_token: Any
    proof: VerifiedProof | None

    @property
    def user(self) -> Any:
        """The resource owner, None for a client-credentials token (DOT's convention)."""
        return self.access_token.user


def authenticate_resource_request(request: HttpRequest) -> ResourceAccess | None:
    """Authenticate a plain Django request with a DPoP (or, if allowed, Bearer) access token.

    Returns None when the request carries no DPoP or Bearer credentials; raises the core's errors
    (and :class:`InvalidBearerToken`) for any credentials it refuses.
    """
    credentials = get_authorization(request)
    if credentials is None:
        return None
    if credentials.scheme == DPOP_SCHEME:
        access_token, proof = verify_dpop_token(request, credentials.token)
        return ResourceAccess(access_token, proof)
    return ResourceAccess(authenticate_bearer_request(request), None)


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


def challenges(
    error: DPoPError | None = None, *, bearer: bool | None = None, realm: str | None = None
) -> str:
    """Return the ``WWW-Authenticate`` value for a refusal (or for no credentials at all).

    Always a ``DPoP`` challenge with ``algs`` (RFC 9449 §7.1), with ``error`` when the failure was
    on that scheme. A ``Bearer`` challenge follows (RFC 9449 §7.2) when Bearer tokens are accepted
    (``bearer`` defaults to ``DPOP_ALLOW_BEARER_TOKENS``), carrying the error of a refused Bearer
    token. With no credentials neither challenge has an error code (RFC 6750 §3.1).
    """
    if bearer is None:
        bearer = conf.DPOP_ALLOW_BEARER_TOKENS
    algs = conf.DPOP_ALLOWED_ALGORITHMS
    if error is None or isinstance(error, InvalidBearerToken):
        dpop = build_challenge("DPoP", algs=algs)
    else:
        dpop = build_challenge("DPoP", algs=algs, error=error.error, error_description=error.description)
    if not bearer:
        return dpop
    if isinstance(error, InvalidBearerToken):
        return f"{dpop}, " + build_challenge(
            "Bearer", realm=realm, error=error.error, error_description=error.description
        )
    return f"{dpop}, " + build_challenge("Bearer", realm=realm)
