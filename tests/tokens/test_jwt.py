"""JWTTokenValidator called directly (RFC 9068 §4, RFC 9449 §6.1): each success beside its refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from jwt.algorithms import get_default_algorithms

from django_dpop.client import DPoPKey
from django_dpop.core.errors import InvalidToken
from django_dpop.test import TestIssuer
from django_dpop.tokens.base import TokenClaims, ValidatedToken
from django_dpop.tokens.jwt import JWTTokenValidator, jwt_settings
from tests.tokens.conftest import AUDIENCE


JKT = DPoPKey.generate().thumbprint


def validate(token: str, scheme: str = "dpop") -> ValidatedToken | None:
    return JWTTokenValidator().validate(RequestFactory().get("/api/"), token, scheme=scheme)


def bound(issuer: TestIssuer, **claims: Any) -> str:
    headers = claims.pop("headers", None)
    return issuer.mint(audience=AUDIENCE, claims={"cnf": {"jkt": JKT}, **claims}, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join((b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)))


def signed(issuer: TestIssuer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed by the issuer's key with any header (pyjwt's encoder refuses odd ones)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = get_default_algorithms()[header["alg"]].sign(signing_input.encode(), issuer.key.signing_key)
    return signing_input + "." + b64(signature)


def claims_of(issuer: TestIssuer, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "aud": AUDIENCE,
        "exp": now + 600,
        "iat": now,
        "sub": "alice",
        "client_id": "c",
        "cnf": {"jkt": JKT},
        **extra,
    }


# -- success -------------------------------------------------------------------------------------


def test_valid_token(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    token = issuer.mint(
        audience=AUDIENCE, scope="read write", sub="alice", client_id="app", claims={"cnf": {"jkt": JKT}}
    )
    result = validate(token)
    assert isinstance(result, ValidatedToken)
    assert result.jkt == JKT
    assert result.scopes == {"read", "write"}
    assert result.user is None
    auth = result.auth
    assert isinstance(auth, TokenClaims)
    assert (auth.scope, auth.sub, auth.client_id, auth.jkt, auth.source) == (
        "read write",
        "alice",
        "app",
        JKT,
        "jwt",
    )
    assert auth["iss"] == issuer.issuer and auth.get("aud") == AUDIENCE
    assert auth.is_valid(["read"]) and not auth.is_valid(["admin"])
    with pytest.raises(TypeError):
        auth.claims["scope"] = "admin"  # read-only
    # Verified once, then served from the verified-token cache: same answer.
    assert validate(token) == result


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "EdDSA"])
def test_every_allowed_algorithm(trust: Any, alg: str) -> None:
    issuer = TestIssuer("https://alg.example.com", alg=alg)
    trust(issuer)
    assert validate(bound(issuer)).jkt == JKT


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_at_jwt_spellings(trust: Any, issuer: TestIssuer, typ: str) -> None:
    trust(issuer)
    assert validate(bound(issuer, headers={"typ": typ})) is not None


def test_aud_list_containing_this_resource(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    token = issuer.mint(audience=["https://other.example.com", AUDIENCE], claims={"cnf": {"jkt": JKT}})
    assert validate(token) is not None


def test_unbound_token_as_bearer_is_valid_without_jkt(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    result = validate(issuer.mint(audience=AUDIENCE), scheme="bearer")
    assert result is not None and result.jkt is None


def test_bound_token_as_bearer_reports_its_jkt(trust: Any, issuer: TestIssuer) -> None:
    # The validator reports the binding; the pipeline refuses it on the Bearer scheme (RFC 9449 §7.2).
    trust(issuer)
    assert validate(bound(issuer), scheme="bearer").jkt == JKT


# -- "not mine" ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "opaque-dot-token-0123456789",
        "a.b",
        "a.b.c.d.e",  # a JWE has five parts
        "!!!.???.***",
        b64(b"[1]") + "." + b64(b"{}") + ".sig",  # header not an object
        b64(b'{"typ":"at+jwt"}') + "." + b64(b"{}") + ".sig",  # no alg: not a JWS
        b64(b'{"alg":"RS256"}') + ".bm90IGpzb24.sig",  # payload not JSON
        "x" * 20000 + "..",
    ],
)
def test_not_a_jwt_is_not_mine(trust: Any, issuer: TestIssuer, token: str) -> None:
    trust(issuer)
    assert validate(token) is None


def test_untrusted_issuer_is_not_mine(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    stranger = TestIssuer("https://stranger.example.com")
    assert validate(bound(stranger)) is None
    # The same token once its issuer is trusted: valid (the test can fail).
    trust(issuer, stranger)
    assert validate(bound(stranger)) is not None


def test_issuer_must_match_exactly(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    for iss in (issuer.issuer + "/", issuer.issuer.upper(), " " + issuer.issuer, None, 7):
        token = issuer.mint(audience=AUDIENCE, claims={"iss": iss, "cnf": {"jkt": JKT}})
        assert validate(token) is None, iss


# -- refusals ------------------------------------------------------------------------------------


def refused(token: str, match: str, scheme: str = "dpop") -> None:
    with pytest.raises(InvalidToken, match=match):
        validate(token, scheme)


def test_wrong_audience(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    for aud in ("https://other.example.com", ["https://a.example.com"], [], 5, [5], AUDIENCE + "/"):
        refused(issuer.mint(audience="x", claims={"aud": aud, "cnf": {"jkt": JKT}}), "aud")
    refused(issuer.mint(audience="x", claims={"aud": None, "cnf": {"jkt": JKT}}), "aud")  # no aud


def test_per_issuer_audience_wins(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer.settings_entry(audience=["https://special.example.com"]))
    refused(bound(issuer), "aud")
    token = issuer.mint(audience="https://special.example.com", claims={"cnf": {"jkt": JKT}})
    assert validate(token) is not None


def test_no_audience_configured_trusts_nothing(settings: Any, issuer: TestIssuer) -> None:
    settings.DPOP_JWT_ISSUERS = [issuer.settings_entry()]
    settings.DPOP_JWT_AUDIENCE = None
    settings.DPOP_RESOURCE_IDENTIFIER = None
    assert jwt_settings().issuers == {}
    assert validate(bound(issuer)) is None


def test_audience_defaults_to_the_resource_identifier(settings: Any, issuer: TestIssuer) -> None:
    """One identifier for JWT ``aud``, introspection and RFC 9728 metadata (``DPOP_RESOURCE_IDENTIFIER``)."""
    settings.DPOP_JWT_ISSUERS = [issuer.settings_entry()]
    settings.DPOP_JWT_AUDIENCE = None
    settings.DPOP_RESOURCE_IDENTIFIER = AUDIENCE
    assert validate(bound(issuer)) is not None
    settings.DPOP_RESOURCE_IDENTIFIER = "https://another.example.com/"
    with pytest.raises(InvalidToken):
        validate(bound(issuer))


def test_expired(trust: Any, issuer: TestIssuer, settings: Any) -> None:
    trust(issuer, DPOP_CLOCK_SKEW=60)
    now = int(time.time())
    refused(bound(issuer, exp=now - 61), "expired")
    assert validate(bound(issuer, exp=now - 30)) is not None  # within the skew
    refused(bound(issuer, exp=None), "exp")
    refused(bound(issuer, exp="9999999999"), "exp")
    refused(bound(issuer, exp=True), "exp")


def test_expired_token_refused_after_it_was_cached(trust: Any, issuer: TestIssuer, monkeypatch: Any) -> None:
    # The verified-token cache skips the signature only: time is checked on every request.
    trust(issuer, DPOP_CLOCK_SKEW=0)
    token = bound(issuer, exp=int(time.time()) + 5)
    assert validate(token) is not None
    later = time.time() + 10
    monkeypatch.setattr("django_dpop.tokens.jwt.time.time", lambda: later)
    refused(token, "expired")


def test_nbf_ahead(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer, DPOP_CLOCK_SKEW=60)
    now = int(time.time())
    refused(bound(issuer, nbf=now + 120), "nbf")
    assert validate(bound(issuer, nbf=now + 30)) is not None
    refused(bound(issuer, nbf="soon"), "nbf")


def test_iat_in_the_future(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer, DPOP_CLOCK_SKEW=60)
    now = int(time.time())
    refused(bound(issuer, iat=now + 120), "iat")
    assert validate(bound(issuer, iat=now - 3000)) is not None


def test_alg_none(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    for alg in ("none", "None", "NONE"):
        refused(unsigned({"alg": alg, "typ": "at+jwt", "kid": issuer.kid}, claims_of(issuer)), "alg")


def test_hs256_keyed_with_the_issuers_public_key(trust: Any, issuer: TestIssuer) -> None:
    """The classic confusion: HMAC with the public key (PEM or JWK text) as secret."""
    trust(issuer)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": issuer.kid}
    for secret in (issuer.key.public_pem(), json.dumps(issuer.public_jwk).encode()):
        signing_input = ".".join(
            (b64(json.dumps(header).encode()), b64(json.dumps(claims_of(issuer)).encode()))
        )
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        forged = signing_input + "." + b64(signature)
        # A real HS256 token (pyjwt's own HMAC refuses such secrets, a verifier that took the
        # header's alg with the issuer's key material would accept it): refused on its alg.
        refused(forged, "alg")


def test_hs256_refused_even_if_configured(settings: Any, issuer: TestIssuer) -> None:
    # A misconfigured allowlist is refused as a whole (system check django_dpop.E023): the
    # issuer is not trusted, its tokens are not accepted.
    settings.DPOP_JWT_ISSUERS = [issuer.settings_entry(algorithms=["RS256", "HS256"])]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE
    assert validate(bound(issuer)) is None


def test_alg_outside_the_issuers_allowlist(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer.settings_entry(algorithms=["ES256"]))
    refused(bound(issuer), "alg")


def test_alg_that_does_not_fit_the_key(trust: Any, issuer: TestIssuer) -> None:
    # The issuer's RSA key has alg RS256 in its JWK: a PS256 token with its kid finds no key.
    trust(issuer)
    other = TestIssuer(issuer.issuer, alg="PS256", kid=issuer.kid)
    refused(bound(other), "no signing key")


@pytest.mark.parametrize("typ", ["JWT", "jwt", "dpop+jwt", "application/jwt", "at+jwt ", "", None, 1])
def test_typ_other_than_at_jwt(trust: Any, issuer: TestIssuer, typ: Any) -> None:
    trust(issuer)
    token = (
        bound(issuer, headers={"typ": typ})
        if typ is not None
        else jwt.encode(
            claims_of(issuer), issuer.key.signing_key, algorithm="RS256", headers={"kid": issuer.kid}
        )
    )
    if typ is None:
        assert jwt.get_unverified_header(token).get("typ") in (None, "JWT")
    refused(token, "typ")


def test_typ_jwt_accepted_when_configured(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer, DPOP_JWT_ACCEPTED_TYPES=["at+jwt", "JWT"])
    assert validate(bound(issuer, headers={"typ": "JWT"})) is not None
    refused(bound(issuer, headers={"typ": "id_token+jwt"}), "typ")


def test_crit_header(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    refused(bound(issuer, headers={"crit": ["exp"]}), "crit")


def test_token_without_cnf_on_the_dpop_scheme(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    refused(issuer.mint(audience=AUDIENCE), "not DPoP-bound")


@pytest.mark.parametrize(
    "cnf", [{"x5t#S256": "abc"}, {}, {"jkt": ""}, {"jkt": 5}, "jkt", ["jkt"], {"jwk": {"kty": "EC"}}]
)
def test_cnf_without_a_usable_jkt(trust: Any, issuer: TestIssuer, cnf: Any) -> None:
    # Another confirmation method (RFC 8705 mTLS) cannot be checked here: refused on both schemes.
    trust(issuer)
    refused(bound(issuer, cnf=cnf), "cnf")
    refused(bound(issuer, cnf=cnf), "cnf", scheme="bearer")


def test_claim_types(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    refused(bound(issuer, scope=[5]), "scope")  # arrays of scope strings: test_jwt_interop.py
    refused(bound(issuer, sub=5), "sub")
    refused(bound(issuer, client_id=["a"]), "client_id")


def test_tampered_payload(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    header, _, signature = bound(issuer).split(".")
    payload = b64(json.dumps(claims_of(issuer, scope="admin")).encode())
    refused(f"{header}.{payload}.{signature}", "signature")


def test_bad_signature_of_a_cached_token_is_still_refused(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    token = bound(issuer)
    assert validate(token) is not None
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(f"{head}.{payload}.{flipped}", "signature")
    refused(f"{head}.{payload}.", "signature")
    refused(f"{head}.{payload}.{signature}=", "signature")  # not strict base64url


def test_key_carried_by_the_token_is_never_used(trust: Any, issuer: TestIssuer) -> None:
    """RFC 8725 §3.10: a token signed by the attacker's key, naming it in jwk/jku/x5u."""
    trust(issuer)
    attacker = DPoPKey.generate("RS256")
    header = {
        "typ": "at+jwt",
        "kid": issuer.kid,
        "jwk": attacker.public_jwk,
        "jku": "https://attacker.example/jwks",
        "x5u": "https://attacker.example/cert",
    }
    forged = jwt.encode(claims_of(issuer), attacker.signing_key, algorithm="RS256", headers=header)
    refused(forged, "signature")
    no_kid = jwt.encode(
        claims_of(issuer),
        attacker.signing_key,
        algorithm="RS256",
        headers={"typ": "at+jwt", "jwk": attacker.public_jwk},
    )
    refused(no_kid, "signature")  # the issuer's only RS256 key is used, not the token's


def test_unknown_kid_with_static_keys(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    refused(bound(issuer, headers={"kid": "forged"}), "no signing key")
    refused(signed(issuer, {"alg": "RS256", "typ": "at+jwt", "kid": 5}, claims_of(issuer)), "kid")


def test_no_kid_needs_a_single_candidate_key(trust: Any, issuer: TestIssuer) -> None:
    second = TestIssuer(issuer.issuer)
    trust(issuer)
    assert validate(bound(issuer, headers={"kid": None})) is not None
    trust({"issuer": issuer.issuer, "keys": [issuer.public_jwk, second.public_jwk]})
    refused(bound(issuer, headers={"kid": None}), "no signing key")
    assert validate(bound(second)) is not None


def test_several_issuers_in_one_deployment(trust: Any, issuer: TestIssuer, other_issuer: TestIssuer) -> None:
    trust(issuer, other_issuer)
    assert validate(bound(issuer)).auth["iss"] == issuer.issuer
    assert validate(bound(other_issuer)).auth["iss"] == other_issuer.issuer
    # A token naming one issuer but signed by the other's key (its kid too): refused.
    impostor = TestIssuer(issuer.issuer, alg="ES256")
    forged = jwt.encode(
        claims_of(issuer),
        other_issuer.key.signing_key,
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": other_issuer.kid},
    )
    refused(forged, "no signing key")
    refused(bound(impostor), "no signing key")


# -- request.user ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_mapping(trust: Any, issuer: TestIssuer) -> None:
    users = get_user_model().objects
    alice = users.create_user("alice")
    users.create_user("mallory", is_active=False)
    trust(issuer.settings_entry(user_field="username"))
    assert validate(issuer.mint(audience=AUDIENCE, sub="alice", claims={"cnf": {"jkt": JKT}})).user == alice
    assert validate(issuer.mint(audience=AUDIENCE, sub="bob", claims={"cnf": {"jkt": JKT}})).user is None
    assert validate(issuer.mint(audience=AUDIENCE, sub="mallory", claims={"cnf": {"jkt": JKT}})).user is None


@pytest.mark.django_db
def test_no_user_mapping_by_default(trust: Any, issuer: TestIssuer) -> None:
    get_user_model().objects.create_user("alice")
    trust(issuer)
    assert validate(issuer.mint(audience=AUDIENCE, sub="alice", claims={"cnf": {"jkt": JKT}})).user is None


def test_get_user_hook_is_overridable(trust: Any, issuer: TestIssuer) -> None:
    class Mine(JWTTokenValidator):
        def get_user(self, claims: Any) -> Any:
            return f"user:{claims['sub']}"

    trust(issuer)
    token = issuer.mint(audience=AUDIENCE, sub="alice", claims={"cnf": {"jkt": JKT}})
    assert Mine().validate(RequestFactory().get("/"), token, scheme="dpop").user == "user:alice"


def test_settings_are_reparsed_when_changed(trust: Any, issuer: TestIssuer, other_issuer: TestIssuer) -> None:
    trust(issuer)
    token = bound(issuer)
    assert validate(token) is not None
    assert set(jwt_settings().issuers) == {issuer.issuer}
    trust(other_issuer)
    assert set(jwt_settings().issuers) == {other_issuer.issuer}
    assert validate(token) is None  # remembered as verified, but its issuer is no longer trusted
    trust(issuer.settings_entry(audience="https://elsewhere.example.com"))
    refused(token, "aud")
