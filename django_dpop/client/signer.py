"""What both HTTP auth adapters share: sign each request, learn nonces, decide the one retry.

The adapters (:mod:`.httpx_auth`, :mod:`.requests_auth`) only move headers and bodies around;
the DPoP rules live here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Self

from .clock import ServerClock
from .keys import DPoPKey
from .nonces import NONCE_HEADER, RESOURCE, TOKEN_ENDPOINT, NonceCache, is_use_dpop_nonce, origin_of
from .proofs import check_access_token, create_proof
from .tokens import check_token_response


logger = logging.getLogger("django_dpop.client")


class RequestSigner:
    """Signs requests with one key, for the token endpoint or (with a token) for a resource.

    Without ``access_token`` requests carry a proof only (RFC 9449 §5); with one they also carry
    ``Authorization: DPoP <token>`` and the proof's ``ath`` (§7.1). ``nonce_cache`` shares server
    nonces with other signers; ``correct_clock_skew`` (True, or a shared :class:`ServerClock`)
    stamps ``iat`` in the server's time. The only mutable state is in the :class:`NonceCache` and
    the :class:`ServerClock`, which lock, so one instance can serve many threads at once.
    """

    def __init__(
        self,
        key: DPoPKey,
        access_token: str | None = None,
        *,
        nonce_cache: NonceCache | None = None,
        correct_clock_skew: bool | ServerClock = False,
    ) -> None:
        if not isinstance(key, DPoPKey):
            raise TypeError("key must be a DPoPKey")
        self._key = key
        self._access_token = None if access_token is None else check_access_token(access_token)
        self._nonce_cache = nonce_cache if nonce_cache is not None else NonceCache()
        # Off by default; True measures each server's clock from its Date header (see .clock).
        self._clock = (
            correct_clock_skew
            if isinstance(correct_clock_skew, ServerClock)
            else (ServerClock() if correct_clock_skew else None)
        )

    @property
    def key(self) -> DPoPKey:
        return self._key

    @property
    def nonce_cache(self) -> NonceCache:
        return self._nonce_cache

    @property
    def has_token(self) -> bool:
        return self._access_token is not None

    @property
    def role(self) -> str:
        return RESOURCE if self._access_token is not None else TOKEN_ENDPOINT

    def for_token(self, access_token: str) -> Self:
        """Return a signer for resource requests with ``access_token``, same key and nonce cache."""
        return type(self)(
            self._key, access_token, nonce_cache=self._nonce_cache, correct_clock_skew=self._clock or False
        )

    def for_token_response(self, response: Mapping[str, Any] | str | bytes) -> Self:
        """Check a token response (it must say ``token_type: DPoP``, RFC 9449 §5) and return
        :meth:`for_token` of its access token. Raises :class:`TokenResponseError` otherwise."""
        data = check_token_response(response, require_dpop=True)
        return self.for_token(data["access_token"])

    # -- the protocol -------------------------------------------------------------------------

    def sign(self, method: str, url: str, headers: MutableMapping[str, str]) -> str | None:
        """Set a fresh ``DPoP`` header (and ``Authorization``) on ``headers``; return the nonce used."""
        nonce = self._nonce_cache.get(url, self.role)
        iat = self._clock.iat(url) if self._clock is not None else None
        headers["DPoP"] = create_proof(self._key, method, url, self._access_token, nonce, iat=iat)
        if self._access_token is not None:
            headers["Authorization"] = f"DPoP {self._access_token}"
        return nonce

    def learn(self, url: str, nonce: str | None, date: str | None = None) -> str | None:
        """Cache the ``DPoP-Nonce`` of any response to a request for ``url`` (RFC 9449 §8.2),
        and with clock-skew correction on, the server's time from its ``Date`` header."""
        if self._clock is not None:
            self._clock.observe(url, date)
        return self._nonce_cache.update(url, self.role, nonce) if nonce else None

    def should_retry(
        self,
        url: str,
        status_code: int,
        headers: Mapping[str, str] | Callable[[str], list[str]],
        body: bytes | None,
    ) -> bool:
        """Return True if the response asks for a nonce (RFC 9449 §8, §9) and we now know one.

        Callers retry at most once per request, whatever this says the second time.
        """
        if not is_use_dpop_nonce(status_code, headers, body):
            return False
        if self._nonce_cache.get(url, self.role) is None:
            logger.warning("DPoP: %s asked for a nonce but sent none; not retrying", _origin_text(url))
            return False
        logger.debug("DPoP: %s asked for a nonce; retrying once with a new proof", _origin_text(url))
        return True

    def __repr__(self) -> str:
        # Never the token, never key material: the thumbprint identifies the key well enough.
        token = "set" if self._access_token is not None else "none"
        return f"<{type(self).__name__} alg={self._key.alg} jkt={self._key.thumbprint} access_token={token}>"


def _origin_text(url: str) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{host}:{port}"


__all__ = ["NONCE_HEADER", "RequestSigner"]
