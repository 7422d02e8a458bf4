"""The contract every access-token validator fulfils (the seam of the resource pipeline).

A validator is asked about one raw access token of one request and answers one of three ways:

- a :class:`ValidatedToken`: the token is valid here, with its binding (``jkt``, RFC 9449 §6)
  and what the view gets as ``request.auth`` / ``request.user``;
- ``None``: "not mine" (a DOT validator that does not know the token, a JWT validator handed a
  token that is no JWT or comes from an issuer it does not trust); the pipeline asks the next
  validator, and refuses with ``invalid_token`` when none claims the token;
- an exception: :class:`~django_dpop.core.errors.InvalidToken` for a token that is its own but
  invalid (expired, wrong audience, inactive...), :class:`~django_dpop.core.errors.StoreUnavailable`
  when the source it needs cannot answer (JWKS or introspection endpoint down, database locked):
  the request is refused with 503, never accepted.

The binding check itself (``jkt`` against the proof's key, a bound token refused as Bearer,
RFC 9449 §7.1, §7.2) is the pipeline's job, not the validator's: a validator only reports ``jkt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


def scope_of(claims: Mapping[str, Any]) -> str | None:
    """The scopes a token's claims grant, as one space-separated string; None when malformed.

    RFC 9068 §2.2.3 and RFC 7662 §2.2 define ``scope`` as a space-separated string (RFC 6749
    §3.3). Widely deployed servers write it otherwise, and resource servers such as Spring
    Security's read those forms too, so this one does as well:

    - ``scope`` as a JSON array of scope strings (Spring Authorization Server; Duende
      IdentityServer by default, for more than one scope);
    - ``scp``, as a string or an array, when there is no ``scope`` (Okta, Microsoft Entra ID,
      Ory Hydra).

    No claim: ``""`` (no scope). Anything else (a number, an object, an array with a
    non-string, empty or blank-containing entry, which the string form could not express) is
    malformed: the caller refuses the token rather than guess at its scopes.
    """
    value = claims["scope"] if "scope" in claims else claims.get("scp", "")
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    for item in value:
        if not isinstance(item, str) or item.split() != [item]:  # one scope-token per entry
            return None
    return " ".join(value)


@dataclass(frozen=True, slots=True)
class ValidatedToken:
    """A valid access token as the pipeline needs it.

    ``auth``: what becomes ``request.auth`` (DOT's ``AccessToken`` for DOT tokens, a
    :class:`TokenClaims` for the others); it has ``scope`` and ``is_valid(scopes)``, so DOT's
    ``TokenHasScope`` works with it. ``user``: the resource owner, None for none (client
    credentials, or a ``sub`` this server does not map to a user). ``jkt``: the RFC 7638
    thumbprint the token is bound to (``cnf.jkt``), None for an unbound token. ``scopes``: the
    token's scopes.
    """

    auth: Any
    user: Any
    jkt: str | None
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """``request.auth`` for a token that is not a DOT row: its claims, read-only.

    ``claims`` holds every claim of a JWT access token, or every member of an introspection
    response; ``scope`` is the space-separated scope string (DOT's attribute name).
    """

    claims: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""
    source: str = ""

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def client_id(self) -> str | None:
        """``client_id`` (RFC 9068 §2.2, RFC 7662 §2.2), else OpenID Connect's ``azp`` (the client
        the token was issued to: Keycloak, Auth0 and Entra ID tokens often carry only that)."""
        value = self.claims.get("client_id")
        if value is None:
            value = self.claims.get("azp")
        return value if isinstance(value, str) else None

    @property
    def sub(self) -> str | None:
        value = self.claims.get("sub")
        return value if isinstance(value, str) else None

    @property
    def jkt(self) -> str | None:
        cnf = self.claims.get("cnf")
        value = cnf.get("jkt") if isinstance(cnf, Mapping) else None
        return value if isinstance(value, str) else None

    def allow_scopes(self, scopes: Iterable[str]) -> bool:
        """True when the token has every scope of ``scopes`` (DOT's ``AccessToken.allow_scopes``)."""
        return set(scopes) <= self.scopes

    def is_valid(self, scopes: Iterable[str] | None = None) -> bool:
        """DOT's ``AccessToken.is_valid`` signature: the token was validated, so only scopes count."""
        return self.allow_scopes(scopes or ())

    def __getitem__(self, name: str) -> Any:
        return self.claims[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.claims.get(name, default)


class AccessTokenValidator:
    """Base class of the validators; subclasses implement :meth:`validate`.

    ``scheme`` is ``"dpop"`` or ``"bearer"`` (lower case). The pipeline calls ``validate`` only
    after the proof of a DPoP request passed every check of RFC 9449 §4.3, so a validator never
    spends a lookup or a network call on a request with a broken proof.
    """

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        raise NotImplementedError
