"""Review (areas 1 and 2): the resource pipeline and RFC 9068 JWT access tokens, attacked through
the real views (DRF, ``@dpop_required``, the mixin).

Confusions between schemes, tokens, keys and nonce purposes; header case and duplicates; tokens
that carry their own keys or relabel their ``alg``; inputs hunting for a 500.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from jwt.algorithms import get_default_algorithms
from rest_framework.test import APIClient

from django_dpop.client import DPoPKey, create_proof
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, issue_nonce
from django_dpop.test import DPoPAPIClient, TestIssuer
from tests.tokens.conftest import AUDIENCE


pytestmark = [pytest.mark.urls("tests.tokens.urls_jwt"), pytest.mark.django_db]

JWT_VALIDATOR = "django_dpop.tokens.jwt.JWTTokenValidator"
SURFACES = ["/drf/", "/plain/", "/mixin/"]


@pytest.fixture
def jwt_only(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])


def challenge(response: Any) -> str:
    return response.headers.get("WWW-Authenticate", "")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def send(surface: str, token: str, proof: str | None, scheme: str = "DPoP", **extra: str) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}", **extra}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return DPoPAPIClient().get(surface, **headers)


# -- a bound JWT with a proof that is not for this request ---------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_bound_jwt_with_a_proof_for_another_url_method_or_token(
    jwt_only: None, issuer: TestIssuer, surface: str
) -> None:
    key = DPoPKey.generate()
    token = issuer.mint(audience=AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    url = "http://testserver" + surface
    other = "/plain/" if surface != "/plain/" else "/drf/"
    other_token = issuer.mint(audience=AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    for proof in (
        create_proof(key, "GET", "http://testserver" + other, access_token=token),  # htu
        create_proof(key, "GET", "https://testserver" + surface, access_token=token),  # scheme
        create_proof(key, "POST", url, access_token=token),  # htm
        create_proof(key, "GET", url, access_token=other_token),  # ath of another token
        create_proof(key, "GET", url),  # no ath
    ):
        response = send(surface, token, proof)
        assert response.status_code == 401, response.content
        assert 'error="invalid_dpop_proof"' in challenge(response)
    assert send(surface, token, create_proof(key, "GET", url, access_token=token)).status_code == 200


# -- keys: kid of another issuer, keys carried in the token, alg relabelled ------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_kid_confusion_between_trusted_issuers(
    trust: Any, issuer: TestIssuer, other_issuer: TestIssuer, surface: str
) -> None:
    trust(issuer, other_issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    client = DPoPAPIClient()
    cnf = {"cnf": {"jkt": client.dpop_key.thumbprint}}
    # other_issuer signs a token that claims to be issuer's, naming issuer's kid, then its own.
    for kid in (issuer.kid, other_issuer.kid):
        forged = other_issuer.mint(
            audience=AUDIENCE, scope="read", claims={"iss": issuer.issuer, **cnf}, headers={"kid": kid}
        )
        client.credentials(forged)
        response = client.get(surface)
        assert response.status_code == 401, (kid, response.content)
        assert 'error="invalid_token"' in challenge(response)


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u"])
def test_keys_the_token_carries_are_never_used(jwt_only: None, issuer: TestIssuer, header: str) -> None:
    attacker = TestIssuer(issuer.issuer, kid=issuer.kid)  # same iss and kid, its own key
    client = DPoPAPIClient()
    value: Any = attacker.public_jwk if header == "jwk" else "https://attacker.example/jwks"
    client.credentials(
        attacker.mint(
            audience=AUDIENCE,
            scope="read",
            claims={"cnf": {"jkt": client.dpop_key.thumbprint}},
            headers={header: value},
        )
    )
    for surface in SURFACES:
        response = client.get(surface)
        assert response.status_code == 401
        assert 'error="invalid_token"' in challenge(response)


def test_alg_relabelled_or_outside_the_issuers_list(trust: Any, issuer: TestIssuer) -> None:
    client = DPoPAPIClient()
    cnf = {"cnf": {"jkt": client.dpop_key.thumbprint}}
    good = issuer.mint(audience=AUDIENCE, scope="read", claims=cnf)
    head, body, signature = good.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    # RS256 signature relabelled PS256 (same RSA key, same kid): the signature no longer verifies.
    relabelled = b64(json.dumps({**header, "alg": "PS256"}).encode()) + "." + body + "." + signature
    trust(issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    for token in (relabelled,):
        client.credentials(token)
        assert client.get("/drf/").status_code == 401
    # The issuer's own RS256 token, once the issuer is restricted to PS256 only.
    trust(issuer.settings_entry(algorithms=["PS256"]), DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    client.credentials(good)
    response = client.get("/drf/")
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)
    trust(issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    assert client.get("/drf/").status_code == 200


def test_a_token_verified_once_is_checked_again_under_new_settings(
    trust: Any, issuer: TestIssuer, other_issuer: TestIssuer
) -> None:
    """The verified-token cache never outlives the trust: an issuer removed is refused at once."""
    trust(issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    client = DPoPAPIClient()
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read")
    assert client.get("/drf/").status_code == 200
    trust(other_issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    assert client.get("/drf/").status_code == 401
    # Another audience for the same issuer: refused too.
    trust(issuer.settings_entry(audience="https://elsewhere.example"), DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    assert client.get("/drf/").status_code == 401


# -- nonces: a token endpoint nonce is no good at a resource (RFC 9449 §9) -------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_token_endpoint_nonce_replayed_at_a_resource(
    jwt_only: None, issuer: TestIssuer, settings: Any, surface: str
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    client = DPoPAPIClient(follow_nonce=False)
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read")
    as_nonce = issue_nonce(TOKEN_ENDPOINT)
    client.nonce = as_nonce
    response = client.get(surface)
    assert response.status_code == 401
    assert 'error="use_dpop_nonce"' in challenge(response)
    fresh = response.headers["DPoP-Nonce"]
    assert fresh != as_nonce and fresh == issue_nonce(RESOURCE)
    assert client.get(surface).status_code == 200  # with the resource nonce it was given


# -- the Authorization header: case, duplicates, schemes ---------------------------------------------


@pytest.mark.parametrize("scheme", ["dpop", "DPOP", "DPoP"])
def test_scheme_is_case_insensitive(jwt_only: None, issuer: TestIssuer, scheme: str) -> None:
    key = DPoPKey.generate()
    token = issuer.mint(audience=AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    for surface in SURFACES:
        proof = create_proof(key, "GET", "http://testserver" + surface, access_token=token)
        assert send(surface, token, proof, scheme=scheme).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["DPoP {t}, DPoP {t}", "Bearer {t}, DPoP {t}", "DPoP {t},Basic abc", "Basic abc, Bearer {t}"],
)
def test_several_credentials_are_invalid_request(
    jwt_only: None, issuer: TestIssuer, authorization: str
) -> None:
    key = DPoPKey.generate()
    token = issuer.mint(audience=AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    for surface in SURFACES:
        proof = create_proof(key, "GET", "http://testserver" + surface, access_token=token)
        response = DPoPAPIClient().get(
            surface, HTTP_AUTHORIZATION=authorization.format(t=token), HTTP_DPOP=proof
        )
        assert response.status_code == 400, (surface, response.content)
        assert 'error="invalid_request"' in challenge(response)


def test_two_proofs_in_one_header(jwt_only: None, issuer: TestIssuer) -> None:
    key = DPoPKey.generate()
    token = issuer.mint(audience=AUDIENCE, scope="read", claims={"cnf": {"jkt": key.thumbprint}})
    for surface in SURFACES:
        url = "http://testserver" + surface
        proof = create_proof(key, "GET", url, access_token=token)
        response = send(surface, token, proof + ", " + create_proof(key, "GET", url, access_token=token))
        assert response.status_code == 401
        assert 'error="invalid_dpop_proof"' in challenge(response)
        assert send(surface, token, proof).status_code == 200  # the same proof alone, unused


# -- 5xx hunting ---------------------------------------------------------------------------------------


def _jwt(issuer: TestIssuer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign by hand: pyjwt's encoder refuses some of the hostile headers."""
    signing_input = (
        b64(json.dumps({"alg": issuer.alg, **header}).encode()) + "." + b64(json.dumps(claims).encode())
    )
    signature = get_default_algorithms()[issuer.alg].sign(signing_input.encode(), issuer.key.signing_key)
    return signing_input + "." + b64(signature)


@pytest.mark.parametrize(
    "mutation",
    [
        {"exp": 10**400},
        {"exp": "soon"},
        {"exp": True},
        {"iat": 10**400},
        {"nbf": -(10**400)},
        {"aud": []},
        {"aud": [None, {"a": 1}]},
        {"aud": {"x": AUDIENCE}},
        {"cnf": {"jkt": 5}},
        {"cnf": ["jkt"]},
        {"cnf": {"jkt": ""}},
        {"scope": ["read"]},  # Spring AS and Duende write scope as an array: valid
        {"scope": [5]},
        {"scope": ["read write"]},
        {"scp": [None], "scope": None},
        {"sub": 5},
        {"iss": [1]},
        {"iss": {"a": 1}},
    ],
)
def test_hostile_claims_never_500(jwt_only: None, issuer: TestIssuer, mutation: dict[str, Any]) -> None:
    client = DPoPAPIClient()
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": AUDIENCE,
        "exp": now + 600,
        "iat": now,
        "scope": "read",
        "cnf": {"jkt": client.dpop_key.thumbprint},
        **mutation,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    client.credentials(_jwt(issuer, {"typ": "at+jwt", "kid": issuer.kid}, claims))
    for surface in SURFACES:
        response = client.get(surface)
        if mutation in ({"exp": 10**400}, {"nbf": -(10**400)}, {"scope": ["read"]}):
            assert response.status_code == 200, (mutation, response.content)  # odd but valid
        else:
            assert response.status_code == 401, (mutation, response.content)


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "at+jwt", "kid": {"a": 1}},
        {"typ": "at+jwt", "kid": ["x"]},
        {"typ": ["at+jwt"], "kid": "x"},
        {"typ": "at+jwt", "crit": ["exp"]},
        {"typ": "at+jwt", "kid": "\u2603"},
        {"typ": "at+jwt", "kid": "x" * 5000},
    ],
)
def test_hostile_headers_never_500(jwt_only: None, issuer: TestIssuer, header: dict[str, Any]) -> None:
    client = DPoPAPIClient()
    claims = {
        "iss": issuer.issuer,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "scope": "read",
        "cnf": {"jkt": client.dpop_key.thumbprint},
    }
    token = _jwt(issuer, header, claims)
    if len(token) > 16384:
        pytest.skip("longer than the validator looks at")
    client.credentials(token)
    for surface in SURFACES:
        assert client.get(surface).status_code == 401, header


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "e30.e30.e30",  # {} . {} . {}
        b64(b'{"alg":"RS256"}') + "." + b64(b"[1]") + ".AAAA",
        b64(b'{"alg":"RS256"}') + "." + b64(b'"x"') + ".AAAA",
        b64(b'{"alg":"RS256","alg":"none"}') + "." + b64(b"{}") + ".AAAA",
        b64(b'{"alg":"RS256"}') + "." + b64(b'{"iss":NaN}') + ".AAAA",
        b64(b'{"alg":"RS256"}') + "." + b64(b"[" * 100000 + b"]" * 100000)[:16000] + ".AAAA",
        "x" * 20000 + ".a.b",
        "....",
    ],
)
def test_hostile_tokens_never_500(jwt_only: None, token: str) -> None:
    client = DPoPAPIClient()
    client.credentials(token)
    for surface in SURFACES:
        response = client.get(surface)
        assert response.status_code in (400, 401), (token[:60], response.status_code)


def test_non_ascii_authorization_never_500(jwt_only: None) -> None:
    for value in ("DPoP \u00e9t\u00e9", "DPoP a\x00b", "DPoP " + "\u2603" * 10, "Bearer \u00e9"):
        for surface in SURFACES:
            response = APIClient().get(surface, HTTP_AUTHORIZATION=value)
            assert response.status_code in (400, 401), (value, response.status_code)
