"""``DPoPAPIClient``: test a DPoP-protected API in one line (RFC 9449 §4, §7).

    client = DPoPAPIClient()
    client.obtain_token(application=app, user=alice, scope="read")
    response = client.get("/api/me/")        # Authorization: DPoP <token> + a fresh proof

Each request carries a new proof for its method and absolute URL (query dropped, RFC 9449 §4.2),
with ``ath`` when a token is set. A ``use_dpop_nonce`` refusal is retried once with the server's
nonce, and the last ``DPoP-Nonce`` seen is used on later requests (§8.2, §9).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.test.client import FakePayload
from django.utils.encoding import iri_to_uri
from rest_framework.test import APIClient

from .client import DPoPKey, create_proof
from .conf import token_validators
from .http import DPOP_NONCE_HEADER


_DEFAULT_PORTS = {"http": "80", "https": "443"}


class DPoPAPIClient(APIClient):
    """A DRF ``APIClient`` that holds a DPoP key and signs a proof for every request.

    ``key``: the client's :class:`~django_dpop.client.DPoPKey` (a fresh ES256 key by default).
    ``base_url``: sign for this public origin instead of the test request's own, e.g. when the
    server sets ``DPOP_HTU_BASE_URL``. ``follow_nonce``: retry once on ``use_dpop_nonce``.

    ``last_proof`` is the proof sent last (to test a replay), ``nonce`` the server nonce in use.
    Headers given explicitly win: pass ``HTTP_DPOP`` or an ``Authorization`` to send your own.
    """

    def __init__(
        self,
        *args: Any,
        key: DPoPKey | None = None,
        base_url: str | None = None,
        follow_nonce: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dpop_key = key or DPoPKey.generate()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.follow_nonce = follow_nonce
        self.access_token: str | None = None
        self.nonce: str | None = None
        self.last_proof: str | None = None

    # -- tokens ----------------------------------------------------------------------------------

    def credentials(self, token: str | None = None, **kwargs: Any) -> None:
        """Use ``token`` as ``Authorization: DPoP <token>``; other ``kwargs`` as ``APIClient``."""
        self.access_token = token
        super().credentials(**kwargs)

    def obtain_token(
        self,
        application: Any = None,
        *,
        user: Any = None,
        scope: str | Sequence[str] = "read write",
        expires_in: int = 3600,
    ) -> Any:
        """Create an access token bound to this client's key and use it; return its record.

        No token endpoint is involved: the first configured validator (``DPOP_TOKEN_VALIDATORS``)
        that offers ``create_test_token`` writes it (with DOT's validator: an ``AccessToken`` row
        and its ``AccessTokenBinding``, ORM only), for tests of a resource server.
        ``user=None`` is a client-credentials token. Without ``application`` DOT's validator
        creates a confidential client-credentials application.
        """
        for validator in token_validators():
            create = getattr(validator, "create_test_token", None)
            if create is None:
                continue
            raw, record = create(
                jkt=self.dpop_key.thumbprint,
                application=application,
                user=user,
                scope=scope if isinstance(scope, str) else " ".join(scope),
                expires_in=expires_in,
            )
            self.access_token = raw
            return record
        raise ImproperlyConfigured(
            "DPoPAPIClient.obtain_token() needs a validator in DPOP_TOKEN_VALIDATORS with "
            "create_test_token() (e.g. django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator); "
            "or set a token with client.credentials(token)."
        )

    def obtain_jwt_token(
        self,
        issuer: TestIssuer,
        *,
        audience: str | Sequence[str],
        scope: str | Sequence[str] = "read write",
        sub: str | None = None,
        client_id: str = "test-client",
        claims: Mapping[str, Any] | None = None,
        expires_in: int = 3600,
    ) -> str:
        """Mint an RFC 9068 JWT access token bound to this client's key (``cnf.jkt``) and use it.

        Signed by ``issuer`` (a :class:`TestIssuer` the server trusts, e.g. through
        ``issuer.settings_entry()`` in ``DPOP_JWT_ISSUERS``): no authorization server involved.
        ``claims`` are added last (and win), e.g. ``{"cnf": None}`` to leave the binding out.
        """
        token = issuer.mint(
            audience=audience,
            scope=scope,
            sub=sub,
            client_id=client_id,
            claims={"cnf": {"jkt": self.dpop_key.thumbprint}, **(claims or {})},
            expires_in=expires_in,
        )
        self.access_token = token
        return token

    def logout(self) -> None:
        super().logout()
        self.access_token = None
        self.nonce = None

    # -- signing ---------------------------------------------------------------------------------

    def request_url(self, environ: dict[str, Any]) -> str:
        """The absolute URL (no query) of a test request: what its proof's ``htu`` names.

        Built as Django builds it for the view (``request.build_absolute_uri(request.path)``).
        """
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ["PATH_INFO"])
        # The test client stores the path WSGI-style (bytes as latin-1); Django decodes UTF-8.
        path = iri_to_uri(path.encode("iso-8859-1").decode("utf-8", "replace"))
        if self.base_url:
            return self.base_url + path
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST")
        if not host:
            host = str(environ.get("SERVER_NAME", "testserver"))
            port = str(environ.get("SERVER_PORT", _DEFAULT_PORTS[scheme]))
            if port != _DEFAULT_PORTS[scheme]:
                host = f"{host}:{port}"
        return f"{scheme}://{host}{path}"

    def request(self, **kwargs: Any) -> Any:
        kwargs.update(self._credentials)
        payload = kwargs.get("wsgi.input")
        body = payload.read() if isinstance(payload, FakePayload) else None
        response = self._signed_request(kwargs, body)
        if self.follow_nonce and self._asks_for_nonce(response):
            response = self._signed_request(kwargs, body)
        return response

    def _signed_request(self, environ: dict[str, Any], body: bytes | None) -> Any:
        environ = dict(environ)
        if body is not None:
            environ["wsgi.input"] = FakePayload(body)  # a retry needs the body again
        token = self.access_token
        if token is not None:
            environ.setdefault("HTTP_AUTHORIZATION", f"DPoP {token}")
        if "HTTP_DPOP" not in environ:
            # ``ath`` for the DPoP token actually sent, the client's or one given explicitly.
            scheme, _, credentials = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
            ath_token = (credentials.strip() or None) if scheme.lower() == "dpop" else None
            self.last_proof = create_proof(
                self.dpop_key,
                str(environ.get("REQUEST_METHOD", "GET")),
                self.request_url(environ),
                access_token=ath_token,
                nonce=self.nonce,
            )
            environ["HTTP_DPOP"] = self.last_proof
        # Straight to APIClient's parent: credentials were merged above.
        response = super(APIClient, self).request(**environ)
        nonce = response.headers.get(DPOP_NONCE_HEADER)
        if nonce:
            self.nonce = nonce
        return response

    @staticmethod
    def _asks_for_nonce(response: Any) -> bool:
        """A ``use_dpop_nonce`` refusal: 401 challenge at a resource (RFC 9449 §9), 400 JSON
        at a token endpoint (§8), both with a ``DPoP-Nonce`` to retry with."""
        if DPOP_NONCE_HEADER not in response.headers:
            return False
        if response.status_code == 401:
            return 'error="use_dpop_nonce"' in response.headers.get("WWW-Authenticate", "")
        if response.status_code == 400 and "json" in response.headers.get("Content-Type", ""):
            try:
                return json.loads(response.content).get("error") == "use_dpop_nonce"
            except (ValueError, AttributeError):
                return False
        return False


class TestIssuer:
    """A stand-in authorization server that signs RFC 9068 JWT access tokens for tests.

        issuer = TestIssuer()                                  # RS256, the RFC 9068 §4 default
        settings.DPOP_JWT_ISSUERS = [issuer.settings_entry()]  # static keys: no HTTP at all
        client.obtain_jwt_token(issuer, audience="https://api.example.com")

    ``jwks`` is its public JWK Set (serve it to test ``jwks_uri`` or discovery), ``key`` its
    signing :class:`~django_dpop.client.DPoPKey`, ``kid`` the key id in every token's header.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self, issuer: str = "https://issuer.test", *, alg: str = "RS256", kid: str | None = None
    ) -> None:
        self.issuer = issuer
        self.key = DPoPKey.generate(alg)
        self.kid = kid or self.key.thumbprint[:16]

    @property
    def alg(self) -> str:
        return self.key.alg

    @property
    def public_jwk(self) -> dict[str, str]:
        return {**self.key.public_jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def settings_entry(self, **options: Any) -> dict[str, Any]:
        """A ``DPOP_JWT_ISSUERS`` entry trusting this issuer's static key; ``options`` are added
        (``audience``, ``algorithms``, ``user_field``)."""
        return {"issuer": self.issuer, "keys": [self.public_jwk], **options}

    def mint(
        self,
        *,
        audience: str | Sequence[str],
        scope: str | Sequence[str] = "read write",
        sub: str | None = None,
        client_id: str = "test-client",
        claims: Mapping[str, Any] | None = None,
        expires_in: int = 3600,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign an access token (RFC 9068 §2.2); ``claims`` and ``headers`` are added last and
        win, and a value of None removes a claim (e.g. ``claims={"exp": None}``)."""
        import jwt

        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience if isinstance(audience, str) else list(audience),
            "exp": now + expires_in,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "sub": sub if sub is not None else client_id,
            "scope": scope if isinstance(scope, str) else " ".join(scope),
        }
        payload.update(claims or {})
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"typ": "at+jwt", "kid": self.kid, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        # Signed as a JWS of the JSON payload, so tests may mint claims pyjwt's JWT API refuses.
        body = json.dumps(payload, separators=(",", ":")).encode()
        return jwt.api_jws.encode(body, self.key.signing_key, algorithm=self.alg, headers=header)
