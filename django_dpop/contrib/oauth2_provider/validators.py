"""DOT's request validator (``OAUTH2_VALIDATOR_CLASS``) taught DPoP key binding (RFC 9449).

The backend (:mod:`.backends`) verifies proofs and hands the thumbprint over in the synthetic
``X_DJANGO_DPOP_JKT`` header; everything here only binds and compares thumbprints:

* ``_save_bearer_token``: per-client policy (§5.2), then bind the access token (and the refresh
  token of a public client, §5) inside DOT's transaction. One place covers DOT's three issuance
  paths: a fresh pair, the in-place update when refresh tokens do not rotate, and the
  grace-period answer that returns the access token issued before.
* ``validate_refresh_token`` / ``validate_code``: a bound refresh token or code (§5, §10) needs
  a proof by its key.
* ``_create_authorization_code``: store ``dpop_jkt`` (§10).
* ``validate_bearer_token``: the downgrade guard (§7.2) on every DOT resource surface.
* ``_get_token_from_authentication_server``: remote introspection keeps ``cnf.jkt`` (§6.2).
"""

from __future__ import annotations

import base64
import contextvars
import http.client
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import requests
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import router, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.timezone import make_aware
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_device_grant_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, ServerError

from ...conf import conf
from .backends import JKT_HEADER
from .compat import get_timezone
from .errors import PROOF_REQUIRED, DPoPKeyMismatchError, InvalidDPoPProofError
from .models import AccessTokenBinding, ApplicationPolicy, GrantBinding, RefreshTokenBinding
from .tokens import binding_jkt, token_checksum
from .transactions import lock_rows


log = logging.getLogger(__name__)

#: RFC 7638 SHA-256 thumbprint, base64url without padding (RFC 9449 §10 ``dpop_jkt``).
JKT_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")

# An access token the backend already loaded (with its binding) while authenticating a DPoP
# request, so that DOT's validate_bearer_token does not load it a second time. Per thread and
# per task: the validator instance itself is shared by every request.
_preloaded_token: contextvars.ContextVar[Any] = contextvars.ContextVar("dpop_preloaded_token", default=None)


def is_jkt(value: object) -> bool:
    """True for a well-formed JWK SHA-256 thumbprint (43 base64url characters)."""
    return isinstance(value, str) and JKT_PATTERN.fullmatch(value) is not None


def request_jkt(request: Any) -> str | None:
    """The thumbprint of the verified proof of this oauthlib request, or None without one."""
    headers = getattr(request, "headers", None) or {}
    jkt = headers.get(JKT_HEADER)
    return jkt if isinstance(jkt, str) and jkt else None


def _same_key(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return constant_time_compare(a, b)


def _is_access_token_jwt(token: str) -> bool:
    """True when ``token``'s (unverified) JWS header says ``typ: at+jwt`` (RFC 9068 §2.1)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return False
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt")


@contextmanager
def preloaded_access_token(access_token: Any) -> Iterator[None]:
    """Let ``_load_access_token`` reuse ``access_token`` (already loaded with its binding)."""
    reset = _preloaded_token.set(access_token)
    try:
        yield
    finally:
        _preloaded_token.reset(reset)


class DPoPValidatorMixin:
    """Mix into an ``OAuth2Validator`` subclass (before it) to bind and check DPoP keys."""

    # -- policy ---------------------------------------------------------------------------------

    def client_requires_dpop(self, client: Any) -> bool:
        """RFC 9449 §5.2 ``dpop_bound_access_tokens`` of ``client`` (an Application or None)."""
        if client is None:
            return False
        try:
            return bool(client.dpop_policy.dpop_bound_access_tokens)
        except ApplicationPolicy.DoesNotExist:
            return False

    def binds_refresh_tokens(self, client: Any) -> bool:
        """RFC 9449 §5: refresh tokens of public clients are bound; confidential ones opt in."""
        if client is not None and client.client_type == AbstractApplication.CLIENT_PUBLIC:
            return True
        return bool(conf.DPOP_BIND_CONFIDENTIAL_REFRESH_TOKENS)

    # -- client authentication -----------------------------------------------------------------

    def _extract_basic_auth(self, request: Any) -> str | None:
        """DOT's Basic credentials, or None when they are not ASCII (RFC 7617 §2: base64).

        DOT 3.4.1 hands them to ``base64.b64decode``, whose ``ValueError`` on non-ASCII text it
        does not catch: ``Authorization: Basic ü`` was a 500 at the token endpoint. None makes
        it an ordinary failed client authentication (``invalid_client``).
        """
        auth_string = super()._extract_basic_auth(request)  # type: ignore[misc]
        if isinstance(auth_string, str) and not auth_string.isascii():
            return None
        return auth_string

    # -- token issuance -------------------------------------------------------------------------

    def _save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> Any:
        jkt = request_jkt(request)
        if jkt is None and self.client_requires_dpop(request.client):
            raise InvalidDPoPProofError(
                description="A DPoP proof is required: this client must use DPoP-bound access tokens.",
                request=request,
            )
        issued = token.get("access_token")
        previous_refresh_token = getattr(request, "refresh_token_instance", None)
        result = super()._save_bearer_token(token, request, *args, **kwargs)  # type: ignore[misc]
        AccessToken = get_access_token_model()

        if token.get("access_token") != issued:
            # DOT's REFRESH_TOKEN_GRACE_PERIOD_SECONDS retry: it answers the access token issued
            # for the first use of this refresh token. Only with the key (or lack of one) that
            # token is bound to, or the response's token_type would lie about it.
            previous = (
                AccessToken.objects.select_related("dpop_binding")
                .filter(source_refresh_token=previous_refresh_token)
                .first()
            )
            if previous is None or not _same_key(binding_jkt(previous), jkt):
                raise DPoPKeyMismatchError(
                    description="The access token issued for this refresh token is bound to another key.",
                    request=request,
                )
            # DOT mints a new refresh token here when the first answer's one is gone: bind it.
            self._bind_refresh_token(token, request, jkt)
            return result

        access_token_id = (
            AccessToken.objects.filter(token_checksum=token_checksum(token["access_token"]))
            .values_list("pk", flat=True)
            .first()
        )
        reused_row = request.grant_type == "refresh_token"  # DOT may have updated the row in place
        if jkt is not None:
            if reused_row:
                AccessTokenBinding.objects.update_or_create(
                    access_token_id=access_token_id, defaults={"jkt": jkt}
                )
            else:
                AccessTokenBinding.objects.create(access_token_id=access_token_id, jkt=jkt)
        elif reused_row:
            # A confidential client refreshing without a proof gets a Bearer token, even in place.
            AccessTokenBinding.objects.filter(access_token_id=access_token_id).delete()

        self._bind_refresh_token(token, request, jkt)
        return result

    def _bind_refresh_token(self, token: dict[str, Any], request: Any, jkt: str | None) -> None:
        """Bind the refresh token of ``token`` to ``jkt`` when the client's tokens are bound (§5)."""
        refresh_token = token.get("refresh_token")
        if not refresh_token or jkt is None or not self.binds_refresh_tokens(request.client):
            return
        refresh_token_id = (
            get_refresh_token_model()
            .objects.filter(token_checksum=token_checksum(refresh_token), revoked__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if refresh_token_id is None:
            # Never hand out a refresh token that must be bound but is not: roll the save back.
            raise ServerError(description="The refresh token to bind was not found.")
        RefreshTokenBinding.objects.update_or_create(refresh_token_id=refresh_token_id, defaults={"jkt": jkt})

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """RFC 9449 §5: a bound refresh token is only usable with a proof by its key.

        The token's rows are locked first: a concurrent refresh of the same token waits for this
        request's rotation, then validates what it left (invalid_grant, or DOT's grace period).
        """
        lock_rows(get_refresh_token_model().objects.filter(token_checksum=token_checksum(refresh_token)))
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):  # type: ignore[misc]
            return False
        bound = (
            RefreshTokenBinding.objects.filter(pk=request.refresh_token_instance.pk)
            .values_list("jkt", flat=True)
            .first()
        )
        self._check_bound_key(bound, request, "refresh token")
        return True

    def _check_bound_key(self, bound: str | None, request: Any, what: str) -> None:
        if bound is None:
            return
        jkt = request_jkt(request)
        if jkt is None:
            raise InvalidDPoPProofError(description=PROOF_REQUIRED % what, request=request)
        if not constant_time_compare(jkt, bound):
            raise DPoPKeyMismatchError(request=request)

    # -- authorization code binding (RFC 9449 §10) --------------------------------------------

    def _create_authorization_code(self, request: Any, code: dict[str, Any], expires: Any = None) -> Any:
        dpop_jkt = getattr(request, "dpop_jkt", None)
        if dpop_jkt is not None and not is_jkt(dpop_jkt):
            # The view checks the query; this catches an edited consent form.
            raise InvalidRequestError(
                description="dpop_jkt is not a JWK SHA-256 thumbprint.", request=request
            )
        # One transaction: a code must never be stored without the binding it was asked with.
        with transaction.atomic(using=router.db_for_write(GrantBinding)):
            grant = super()._create_authorization_code(request, code, expires)  # type: ignore[misc]
            if dpop_jkt:
                GrantBinding.objects.create(grant=grant, jkt=dpop_jkt)
        return grant

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # Lock the code: a concurrent exchange waits, then finds it spent (RFC 6749 §4.1.2:
        # used once; §5.2 invalid_grant) instead of reading it halfway through its deletion.
        lock_rows(get_grant_model().objects.filter(code=code, application=client))
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):  # type: ignore[misc]
            return False
        bound = (
            GrantBinding.objects.filter(grant__code=code, grant__application=client)
            .values_list("jkt", flat=True)
            .first()
        )
        self._check_bound_key(bound, request, "authorization code")
        return True

    # DOT reads the code again with .get() in these: a code deleted by a concurrent exchange (in
    # a database where the lock above cannot hold, such as a router sending reads elsewhere)
    # raised DoesNotExist, a 500. A spent code is invalid_grant (RFC 6749 §5.2).

    def confirm_redirect_uri(
        self, client_id: str, code: str, redirect_uri: str, client: Any, *args: Any, **kwargs: Any
    ) -> bool:
        try:
            return super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs)  # type: ignore[misc]
        except ObjectDoesNotExist:
            raise InvalidGrantError(description="The authorization code was used or expired.") from None

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        try:
            return super().get_code_challenge(code, request)  # type: ignore[misc]
        except ObjectDoesNotExist:
            raise InvalidGrantError(
                description="The authorization code was used or expired.", request=request
            ) from None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        try:
            return super().get_code_challenge_method(code, request)  # type: ignore[misc]
        except ObjectDoesNotExist:
            raise InvalidGrantError(
                description="The authorization code was used or expired.", request=request
            ) from None

    # -- device code grant (RFC 8628) -----------------------------------------------------------

    def validate_device_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> str | None:
        """RFC 8628 §3.5 status of ``code``, which oauthlib 4 asks of the validator.

        DOT 3.4.1 predates this hook (it checks the status in its view), so with oauthlib 4 every
        device-code token request raised AttributeError (a 500). DOT's own implementation wins
        once it has one.
        """
        parent = getattr(super(), "validate_device_code", None)
        if parent is not None:
            return parent(client_id, code, request, *args, **kwargs)
        device = get_device_grant_model().objects.filter(device_code=code, client_id=client_id).first()
        if device is None:
            return None
        if device.status == device.AUTHORIZED and not device.is_expired():
            request.user = device.user
            request.scopes = device.scope.split() if device.scope else []
            return "authorized"
        if device.status == device.AUTHORIZATION_PENDING and not device.is_expired():
            return "authorization_pending"
        if device.status == device.DENIED:
            return "access_denied"
        return "expired_token"

    # -- resource access ------------------------------------------------------------------------

    def _load_access_token(self, token: str) -> Any:
        preloaded = _preloaded_token.get()
        if preloaded is not None and constant_time_compare(preloaded.token_checksum, token_checksum(token)):
            return preloaded
        return (
            get_access_token_model()
            .objects.select_related("application", "user", "dpop_binding")
            .filter(token_checksum=token_checksum(token))
            .first()
        )

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        """DOT's check plus the key binding: the downgrade guard of RFC 9449 §7.2.

        Every DOT resource surface (DRF, the view mixins and decorators, OIDC UserInfo, the
        introspection endpoint's own token auth) ends here, so a bound token presented as
        Bearer is refused everywhere; and a DPoP request (verified jkt) needs a bound token.
        """
        if not super().validate_bearer_token(token, scopes, request):  # type: ignore[misc]
            return False
        bound = binding_jkt(request.access_token)
        presented = request_jkt(request)
        if _same_key(bound, presented):
            return True
        if presented is None:
            description = "This access token is DPoP-bound: present it with the DPoP scheme and a proof."
        elif bound is None:
            description = "This access token is not DPoP-bound: present it with the Bearer scheme."
        else:
            description = "The DPoP proof key does not match the key the access token is bound to."
        request.oauth2_error = OrderedDict([("error", "invalid_token"), ("error_description", description)])
        request.access_token = None
        return False

    def validate_jwt_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        """Route a JWT access token (RFC 9068 ``typ: at+jwt``) to :meth:`validate_bearer_token`.

        oauthlib's OpenID Connect server hands every token that looks like a JWT to this method
        (``JWTToken.estimate_type`` outbids Bearer), where DOT checks it as an ID token, so every
        JWT access token was refused on DOT's resource surfaces. ``typ`` only routes: the token
        must still be a stored, valid access token, with its binding checked.
        """
        if _is_access_token_jwt(token):
            return self.validate_bearer_token(token, scopes, request)
        return super().validate_jwt_bearer_token(token, scopes, request)  # type: ignore[misc]

    def _get_token_from_authentication_server(
        self,
        token: str,
        introspection_url: str,
        introspection_token: str | None,
        introspection_credentials: tuple[str, str] | None,
    ) -> Any:
        """DOT's remote introspection, keeping the token's ``cnf.jkt`` (RFC 9449 §6.2).

        DOT caches the introspected token as a local AccessToken and later requests use that row
        without asking again: the binding must be cached with it, or the token turns into a
        Bearer token after its first use. Re-implemented because DOT's version discards the
        response. A ``DPoP`` token type without a usable ``cnf.jkt`` is refused.
        """
        content = self._introspect(token, introspection_url, introspection_token, introspection_credentials)
        if content is None or content.get("active") is not True:
            return None

        cnf = content.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        token_type = content.get("token_type")
        if jkt is not None and not is_jkt(jkt):
            log.warning("Introspection: rejecting token with a malformed cnf.jkt")
            return None
        if jkt is None and isinstance(token_type, str) and token_type.lower() == "dpop":
            log.warning("Introspection: rejecting a DPoP token without cnf.jkt")
            return None

        user = self.get_or_create_user_from_content(content) if "username" in content else None  # type: ignore[attr-defined]
        max_caching_time = datetime.now(tz=UTC) + timedelta(
            seconds=oauth2_settings.RESOURCE_SERVER_TOKEN_CACHING_SECONDS
        )
        if "exp" in content:
            try:
                expires = datetime.fromtimestamp(content["exp"], tz=UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                log.warning("Introspection: rejecting token with a malformed exp")
                return None
            exp_time_zone = oauth2_settings.AUTHENTICATION_SERVER_EXP_TIME_ZONE
            if exp_time_zone != "UTC":
                expires = make_aware(expires.replace(tzinfo=None), timezone=get_timezone(exp_time_zone))
            expires = min(expires, max_caching_time)
        else:
            expires = max_caching_time
        if not settings.USE_TZ:
            expires = timezone.make_naive(expires, expires.tzinfo)

        aud = content.get("aud", [])
        if isinstance(aud, str):
            aud = [aud]
        elif not isinstance(aud, list) or not all(isinstance(entry, str) for entry in aud):
            log.warning("Introspection: rejecting token with a malformed aud: %r", aud)
            return None

        AccessToken = get_access_token_model()
        stored_token = "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else token
        with transaction.atomic(using=router.db_for_write(AccessToken)):
            access_token, _created = AccessToken.objects.update_or_create(
                token_checksum=token_checksum(token),
                defaults={
                    "token": stored_token,
                    "user": user,
                    "application": None,
                    "scope": content.get("scope", ""),
                    "expires": expires,
                    "resource": aud,
                },
            )
            if jkt is not None:
                binding, _created = AccessTokenBinding.objects.update_or_create(
                    access_token=access_token, defaults={"jkt": jkt}
                )
                access_token.dpop_binding = binding
            else:
                AccessTokenBinding.objects.filter(access_token=access_token).delete()
                # Forget a binding cached on the instance (an unbound token reads None).
                access_token._state.fields_cache.pop("dpop_binding", None)
        return access_token

    def _introspect(
        self,
        token: str,
        introspection_url: str,
        introspection_token: str | None,
        introspection_credentials: tuple[str, str] | None,
    ) -> dict[str, Any] | None:
        """POST the token to the introspection endpoint (RFC 7662 §2.1); None on any failure."""
        headers = None
        if introspection_token:
            headers = {"Authorization": f"Bearer {introspection_token}"}
        elif introspection_credentials:
            pair = f"{introspection_credentials[0]}:{introspection_credentials[1]}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        try:
            response = requests.post(introspection_url, data={"token": token}, headers=headers, timeout=10)
        except requests.exceptions.RequestException:
            log.exception("Introspection: failed POST to %r", introspection_url)
            return None
        if response.status_code != http.client.OK:
            log.error("Introspection: status %s from %r", response.status_code, introspection_url)
            return None
        try:
            content = response.json()
        except ValueError:
            log.error("Introspection: response is not JSON")
            return None
        return content if isinstance(content, dict) else None


class DPoPOAuth2Validator(DPoPValidatorMixin, OAuth2Validator):
    """``OAUTH2_VALIDATOR_CLASS`` for DOT with DPoP."""
