"""Remote key sets: jwks_uri and discovery served by a real local HTTP server, counting its requests.

Failure semantics: no usable key -> StoreUnavailable (503, never accepted); unknown kid after the
one refetch the interval allows -> InvalidToken; no fetch per request in any of these cases.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.test import RequestFactory

from django_dpop.client import DPoPKey
from django_dpop.core.errors import InvalidToken, StoreUnavailable
from django_dpop.test import TestIssuer
from django_dpop.tokens.jwks import KeySet, build_key, metadata_urls
from django_dpop.tokens.jwt import JWTTokenValidator
from tests.tokens.conftest import AUDIENCE, FakeClock, JWKSServer


JKT = DPoPKey.generate().thumbprint


def validate(token: str) -> Any:
    return JWTTokenValidator().validate(RequestFactory().get("/api/"), token, scheme="dpop")


def bound(issuer: TestIssuer, **headers: Any) -> str:
    return issuer.mint(audience=AUDIENCE, claims={"cnf": {"jkt": JKT}}, headers=headers or None)


@pytest.fixture
def remote(settings: Any, jwks_server: JWKSServer, clock: FakeClock) -> Any:
    """An issuer whose JWKS the local server publishes at /jwks, trusted through its jwks_uri."""
    issuer = TestIssuer("https://remote.example.com")
    url = jwks_server.serve("/jwks", issuer.jwks)
    settings.DPOP_JWT_ISSUERS = [{"issuer": issuer.issuer, "jwks_uri": url}]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE
    settings.DPOP_JWKS_ALLOW_HTTP = True
    settings.DPOP_JWKS_CACHE_SECONDS = 300
    settings.DPOP_JWKS_REFETCH_INTERVAL = 30
    settings.DPOP_JWKS_MAX_STALE = 600
    settings.DPOP_JWKS_TIMEOUT = 2
    return issuer


def test_jwks_uri_fetched_once_then_cached(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    for _ in range(5):
        assert validate(bound(remote)).jkt == JKT
    assert jwks_server.counts["/jwks"] == 1
    clock.advance(301)  # expired: refetched once
    assert validate(bound(remote)) is not None
    assert validate(bound(remote)) is not None
    assert jwks_server.counts["/jwks"] == 2


def test_unknown_kid_one_refetch_then_refused(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    assert validate(bound(remote)) is not None
    assert jwks_server.counts["/jwks"] == 1
    clock.advance(31)
    with pytest.raises(InvalidToken, match="kid"):
        validate(bound(remote, kid="forged-0"))
    assert jwks_server.counts["/jwks"] == 2  # exactly one refetch
    # A burst of forged kids within the interval: no fetch at all.
    for number in range(1, 50):
        with pytest.raises(InvalidToken):
            validate(bound(remote, kid=f"forged-{number}"))
    assert jwks_server.counts["/jwks"] == 2
    clock.advance(31)
    for number in range(50, 60):
        with pytest.raises(InvalidToken):
            validate(bound(remote, kid=f"forged-{number}"))
    assert jwks_server.counts["/jwks"] == 3  # one per interval
    assert validate(bound(remote)) is not None  # the real key still works


def test_burst_of_forged_kids_from_many_threads(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    assert validate(bound(remote)) is not None
    clock.advance(31)
    tokens = [bound(remote, kid=f"forged-{n}") for n in range(40)]
    outcomes: list[str] = []

    def attack(token: str) -> None:
        try:
            validate(token)
            outcomes.append("accepted")
        except InvalidToken:
            outcomes.append("refused")

    threads = [threading.Thread(target=attack, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["refused"] * 40
    assert jwks_server.counts["/jwks"] == 2


def test_rotated_key_is_fetched_on_its_unknown_kid(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    assert validate(bound(remote)) is not None
    rotated = TestIssuer(remote.issuer, alg="ES256")
    jwks_server.serve("/jwks", {"keys": [remote.public_jwk, rotated.public_jwk]})
    clock.advance(31)
    assert validate(bound(rotated)) is not None
    assert jwks_server.counts["/jwks"] == 2


def test_rotated_key_within_the_interval_waits_for_it(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    old = bound(remote)
    assert validate(old) is not None
    rotated = TestIssuer(remote.issuer, alg="ES256")
    jwks_server.serve("/jwks", {"keys": [rotated.public_jwk]})
    with pytest.raises(InvalidToken):
        validate(bound(rotated))  # fetched less than the interval ago: no fetch
    assert jwks_server.counts["/jwks"] == 1
    clock.advance(30)
    assert validate(bound(rotated)) is not None
    # The new set replaced the old one: the removed key's tokens are refused now, including
    # the one verified (and remembered) before the rotation.
    with pytest.raises(InvalidToken):
        validate(bound(remote))
    with pytest.raises(InvalidToken):
        validate(old)


@pytest.mark.parametrize(
    "route",
    [
        {"status": 500, "body": b"oops"},
        {"status": 404, "body": b"{}"},
        {"status": 302, "body": b"", "headers": {"Location": "/elsewhere"}},
        {"body": b"<html>not json</html>"},
        {"body": b'{"keys": "nope"}'},
        {"body": b"[]"},
        {"body": b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'},  # a symmetric key only
        {"body": b'{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}'},  # too small
        {"body": b'{"keys": [], "x": NaN}'},
    ],
    ids=["500", "404", "redirect", "html", "keys-not-list", "array", "oct-only", "tiny-rsa", "nan"],
)
def test_endpoint_failing_without_cached_keys(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock, route: dict[str, Any]
) -> None:
    jwks_server.serve("/jwks", **route)
    jwks_server.serve("/elsewhere", remote.jwks)
    for _ in range(5):
        with pytest.raises(StoreUnavailable):
            validate(bound(remote))
    assert jwks_server.counts["/jwks"] == 1  # no fetch per request
    assert jwks_server.counts["/elsewhere"] == 0  # redirects are not followed
    clock.advance(31)
    jwks_server.serve("/jwks", remote.jwks)  # back up: accepted after the interval
    assert validate(bound(remote)) is not None
    assert jwks_server.counts["/jwks"] == 2


def test_endpoint_unreachable(settings: Any, remote: TestIssuer, clock: FakeClock) -> None:
    dead = JWKSServer()
    url = dead.url("/jwks")
    dead.close()  # nothing listens on that port any more
    settings.DPOP_JWT_ISSUERS = [{"issuer": remote.issuer, "jwks_uri": url}]
    with pytest.raises(StoreUnavailable, match="could not be fetched"):
        validate(bound(remote))


def test_response_too_large(
    settings: Any, remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    settings.DPOP_JWKS_MAX_SIZE = 1000
    padding = {"keys": [remote.public_jwk], "padding": "x" * 2000}
    jwks_server.serve("/jwks", padding)
    with pytest.raises(StoreUnavailable, match="more than 1000 octets"):
        validate(bound(remote))
    # Without a Content-Length the body is cut off while reading.
    jwks_server.serve("/big", padding, content_length=False)
    settings.DPOP_JWT_ISSUERS = [{"issuer": remote.issuer, "jwks_uri": jwks_server.url("/big")}]
    with pytest.raises(StoreUnavailable, match="more than 1000 octets"):
        validate(bound(remote))
    # Under the limit, the same key set is fine (once the failure's back-off has passed).
    settings.DPOP_JWKS_MAX_SIZE = 100000
    clock.advance(31)
    assert validate(bound(remote)) is not None


def test_slow_endpoint_past_the_timeout(settings: Any, remote: TestIssuer, jwks_server: JWKSServer) -> None:
    settings.DPOP_JWKS_TIMEOUT = 0.3
    jwks_server.serve("/jwks", remote.jwks, delay=1.5)
    with pytest.raises(StoreUnavailable, match="TimeoutError|timed out"):
        validate(bound(remote))
    with pytest.raises(StoreUnavailable):
        validate(bound(remote))
    assert jwks_server.counts["/jwks"] == 1


def test_stale_keys_served_while_the_endpoint_is_down(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    assert validate(bound(remote)) is not None
    jwks_server.serve("/jwks", status=503, body=b"down")
    clock.advance(301)  # expired; the refresh fails: the last good set is used
    assert validate(bound(remote)) is not None
    assert validate(bound(remote)) is not None
    assert jwks_server.counts["/jwks"] == 2  # one failed refresh, not one per request
    clock.advance(31)
    assert validate(bound(remote)) is not None
    assert jwks_server.counts["/jwks"] == 3
    clock.advance(600)  # past DPOP_JWKS_MAX_STALE after expiry: refused, never accepted
    with pytest.raises(StoreUnavailable):
        validate(bound(remote))


def test_http_jwks_uri_refused_without_allow_http(
    settings: Any, remote: TestIssuer, jwks_server: JWKSServer
) -> None:
    settings.DPOP_JWKS_ALLOW_HTTP = False
    assert validate(bound(remote)) is None  # the entry is invalid (system check E022): trusted by no one
    assert jwks_server.counts["/jwks"] == 0


# -- discovery -------------------------------------------------------------------------------------


@pytest.fixture
def discovered(settings: Any, jwks_server: JWKSServer, clock: FakeClock) -> TestIssuer:
    issuer = TestIssuer(jwks_server.url("/realms/demo"))
    jwks_server.serve("/realms/demo/certs", issuer.jwks)
    settings.DPOP_JWT_ISSUERS = [{"issuer": issuer.issuer, "discovery": True}]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE
    settings.DPOP_JWKS_ALLOW_HTTP = True
    return issuer


def test_metadata_urls() -> None:
    assert metadata_urls("https://as.example.com") == (
        "https://as.example.com/.well-known/oauth-authorization-server",
        "https://as.example.com/.well-known/openid-configuration",
    )
    assert metadata_urls("https://as.example.com/realms/demo") == (
        "https://as.example.com/.well-known/oauth-authorization-server/realms/demo",
        "https://as.example.com/realms/demo/.well-known/openid-configuration",
    )


def test_discovery_rfc8414(discovered: TestIssuer, jwks_server: JWKSServer) -> None:
    jwks_server.serve(
        "/.well-known/oauth-authorization-server/realms/demo",
        {"issuer": discovered.issuer, "jwks_uri": jwks_server.url("/realms/demo/certs")},
    )
    assert validate(bound(discovered)) is not None
    assert validate(bound(discovered)) is not None
    assert jwks_server.counts["/.well-known/oauth-authorization-server/realms/demo"] == 1
    assert jwks_server.counts["/realms/demo/.well-known/openid-configuration"] == 0
    assert jwks_server.counts["/realms/demo/certs"] == 1


def test_discovery_falls_back_to_openid_configuration(
    discovered: TestIssuer, jwks_server: JWKSServer
) -> None:
    jwks_server.serve(
        "/realms/demo/.well-known/openid-configuration",
        {"issuer": discovered.issuer, "jwks_uri": jwks_server.url("/realms/demo/certs")},
    )
    assert validate(bound(discovered)) is not None
    assert jwks_server.counts["/.well-known/oauth-authorization-server/realms/demo"] == 1  # 404
    assert jwks_server.counts["/realms/demo/certs"] == 1


def test_discovery_with_a_mismatching_issuer(
    discovered: TestIssuer, jwks_server: JWKSServer, clock: FakeClock
) -> None:
    """RFC 8414 §3.3: metadata naming another issuer MUST NOT be used (its jwks_uri is the attacker's)."""
    attacker = TestIssuer(discovered.issuer)
    jwks_server.serve("/attacker/jwks", attacker.jwks)
    for path in (
        "/.well-known/oauth-authorization-server/realms/demo",
        "/realms/demo/.well-known/openid-configuration",
    ):
        jwks_server.serve(
            path, {"issuer": discovered.issuer + "/evil", "jwks_uri": jwks_server.url("/attacker/jwks")}
        )
    for token in (bound(attacker), bound(discovered), bound(attacker)):
        with pytest.raises(StoreUnavailable, match="names issuer"):
            validate(token)
    assert jwks_server.counts["/attacker/jwks"] == 0
    assert jwks_server.counts["/realms/demo/.well-known/openid-configuration"] == 1  # no fetch per request
    # Once the metadata is right, the real issuer's tokens pass and the attacker's do not.
    jwks_server.serve(
        "/realms/demo/.well-known/openid-configuration",
        {"issuer": discovered.issuer, "jwks_uri": jwks_server.url("/realms/demo/certs")},
    )
    clock.advance(31)
    assert validate(bound(discovered)) is not None
    with pytest.raises(InvalidToken):
        validate(bound(attacker))


def test_discovery_jwks_uri_must_be_https(
    settings: Any, discovered: TestIssuer, jwks_server: JWKSServer
) -> None:
    # The issuer itself may be http here (DPOP_JWKS_ALLOW_HTTP); its metadata's jwks_uri not a file: URL.
    jwks_server.serve(
        "/realms/demo/.well-known/openid-configuration",
        {"issuer": discovered.issuer, "jwks_uri": "file:///etc/passwd"},
    )
    with pytest.raises(StoreUnavailable, match="not an https URL"):
        validate(bound(discovered))


# -- key sets ----------------------------------------------------------------------------------------


def test_key_set_skips_unusable_keys_and_is_bounded() -> None:
    good = [TestIssuer(alg="ES256", kid=f"k{n}").public_jwk for n in range(3)]
    private = DPoPKey.generate("ES256").to_jwk(private=True)
    encryption = {**good[0], "kid": "enc", "use": "enc"}
    keys = KeySet.from_jwks({"keys": [private, encryption, {"kty": "oct", "k": "AA"}, *good]}, max_keys=2)
    assert [key.kid for key in keys.keys] == ["k0", "k1"]
    with pytest.raises(ValueError, match="private"):
        build_key(private)
    with pytest.raises(ValueError, match="does not fit"):
        build_key({**good[0], "alg": "RS256"})
    assert build_key({**good[0], "key_ops": ["verify"]}).algorithms == {"ES256"}
    with pytest.raises(ValueError, match="key_ops"):
        build_key({**good[0], "key_ops": ["encrypt"]})
