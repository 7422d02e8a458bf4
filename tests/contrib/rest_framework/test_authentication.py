"""``DPoPAuthentication`` through DRF's real views (RFC 9449 §7): every acceptance and refusal."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.urls import path
from oauth2_provider.contrib.rest_framework import (
    IsAuthenticatedOrTokenHasScope,
    OAuth2Authentication,
    TokenHasScope,
)
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from django_dpop.conf import conf
from django_dpop.contrib.oauth2_provider.validators import DPoPOAuth2Validator
from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.core import DEFAULT_ALGORITHMS
from django_dpop.core.nonces import rotation_period
from django_dpop.models import SeenProof
from django_dpop.proofs import RESOURCE
from django_dpop.storage import DatabaseNonceStore
from tests.factories import make_proof


URL = "http://testserver/api/me/"
ALGS = f'algs="{" ".join(DEFAULT_ALGORITHMS)}"'


class HasToken(BasePermission):
    """Any valid access token, with or without a user (client credentials)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return request.auth is not None


class MeView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [HasToken]

    def get(self, request: Any) -> Response:
        proof = getattr(request, "dpop_proof", None)
        application = request.auth.application  # None for a token cached from introspection
        return Response(
            {
                "client_id": application.client_id if application else None,
                "user": request.user.username if request.user else None,
                "jkt": proof.jkt if proof else None,
                "token_pk": request.auth.pk,
            }
        )

    post = get


class ReadView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [TokenHasScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class AdminView(ReadView):
    required_scopes = ["admin"]


class UsersView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [IsAuthenticatedOrTokenHasScope]
    required_scopes = ["read"]

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.username})


class StaffView(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.username})


class BearerOnlyView(APIView):
    """DOT's own class first: shows what DPoPAuthentication fixes (the challenge)."""

    authentication_classes = [OAuth2Authentication, DPoPAuthentication]
    permission_classes = [HasToken]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("api/me/", MeView.as_view()),
    path("api/read/", ReadView.as_view()),
    path("api/admin/", AdminView.as_view()),
    path("api/users/", UsersView.as_view()),
    path("api/staff/", StaffView.as_view()),
    path("api/bearer-first/", BearerOnlyView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


STOCK_DOT = {
    "OAUTH2_BACKEND_CLASS": "oauth2_provider.oauth2_backends.OAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator",
    "PKCE_REQUIRED": False,
}


@pytest.fixture(params=["dpop-validator", "stock-dot"])
def dot_classes(request: Any, settings: Any) -> str:
    """Run with the DOT helper's backend and validator, and with DOT's stock ones."""
    if request.param == "stock-dot":
        settings.OAUTH2_PROVIDER = STOCK_DOT
    return request.param


def dpop_get(client: APIClient, token: Any, proof: str | None, url: str = URL, scheme: str = "DPoP") -> Any:
    headers = {"Authorization": f"{scheme} {token.token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return client.get(url, headers=headers)


def challenge_error(response: Any, scheme: str = "DPoP") -> str | None:
    """The ``error`` of the ``scheme`` challenge in WWW-Authenticate (None if it has none)."""
    header = response.headers["WWW-Authenticate"]
    for challenge in re.split(r", (?=(?:DPoP|Bearer)\b)", header):
        if challenge.split(" ", 1)[0] == scheme:
            error = re.search(r'(?:^| )error="([^"]*)"', challenge)
            return error.group(1) if error else None
    raise AssertionError(f"no {scheme} challenge in {header!r}")


# -- acceptance ----------------------------------------------------------------------------------


def test_valid_dpop_request(client, key, make_token, user, dot_classes):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "client_id": token.application.client_id,
        "user": user.username,
        "jkt": key.jkt,
        "token_pk": token.pk,
    }
    assert "DPoP-Nonce" not in response.headers


def test_post_with_body(client, key, make_token):
    token = make_token(jkt=key.jkt)
    response = client.post(
        URL,
        {"a": 1},
        format="json",
        headers={
            "Authorization": f"DPoP {token.token}",
            "DPoP": make_proof(key, "POST", URL, access_token=token.token),
        },
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("scheme", ["dpop", "DPOP", "DpOp"])
def test_scheme_is_case_insensitive(client, key, make_token, scheme):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token), scheme=scheme)
    assert response.status_code == 200, response.content


def test_token68_with_tilde_and_dots(client, key, make_token):
    # RFC 9449 §7.1 example token: every token68 character class.
    token = make_token(jkt=key.jkt, token="Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
    proof = make_proof(key, "GET", URL, access_token=token.token)
    response = dpop_get(client, token, proof)
    assert response.status_code == 200, response.content


def test_query_string_is_not_part_of_htu(client, key, make_token):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token), URL + "?page=2")
    assert response.status_code == 200, response.content


def test_htu_mismatch_challenge_names_the_expected_uri_without_query(client, key, make_token):
    # The operator sees what the server expected (e.g. behind a proxy: set DPOP_HTU_BASE_URL).
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", "https://public.example/api/me/", access_token=token.token)
    response = dpop_get(client, token, proof, URL + "?secret=s3cr3t")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_dpop_proof"' in challenge
    assert f'error_description="DPoP proof htu does not match the request URI; expected {URL}"' in challenge
    assert "s3cr3t" not in challenge


def test_expired_proof_is_refused_at_the_resource(client, key, make_token):
    # RFC 7519 §4.1.4: exp, when present, binds (with DPOP_CLOCK_SKEW leeway).
    token = make_token(jkt=key.jkt)
    expired = make_proof(key, "GET", URL, access_token=token.token, claims={"exp": int(time.time()) - 61})
    response = dpop_get(client, token, expired)
    assert response.status_code == 401 and challenge_error(response) == "invalid_dpop_proof"
    fresh = make_proof(key, "GET", URL, access_token=token.token, claims={"exp": int(time.time()) + 30})
    assert dpop_get(client, token, fresh).status_code == 200


def test_client_credentials_token_has_no_user(client, key, make_token):
    token = make_token(jkt=key.jkt, user=None)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 200, response.content
    assert response.json()["user"] is None
    staff = "http://testserver/api/staff/"
    response = dpop_get(client, token, make_proof(key, "GET", staff, access_token=token.token), staff)
    assert response.status_code == 403  # authenticated, but IsAuthenticated needs a user


def test_scopes(client, key, make_token):
    token = make_token(jkt=key.jkt, scope="read")
    for url, expected in [
        ("http://testserver/api/read/", 200),
        ("http://testserver/api/admin/", 403),
        ("http://testserver/api/users/", 200),
    ]:
        response = dpop_get(client, token, make_proof(key, "GET", url, access_token=token.token), url)
        assert response.status_code == expected, (url, response.content)


def test_is_authenticated_or_token_has_scope_checks_dpop_scopes(client, key, make_token):
    # DOT's permission skips the scope check for authenticators that are not OAuth2Authentication:
    # a DPoP user token without the scope must still be refused.
    token = make_token(jkt=key.jkt, scope="write")
    url = "http://testserver/api/users/"
    response = dpop_get(client, token, make_proof(key, "GET", url, access_token=token.token), url)
    assert response.status_code == 403


def test_one_query_for_token_and_binding(client, key, make_token, django_assert_num_queries, settings):
    settings.DPOP_REPLAY_STORE = None  # count the token lookup alone
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", URL, access_token=token.token)
    with django_assert_num_queries(1):
        response = dpop_get(client, token, proof)
    assert response.status_code == 200


# -- no credentials ------------------------------------------------------------------------------


def test_no_credentials_gets_both_challenges_and_401(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'DPoP {ALGS}, Bearer realm="api"'


def test_no_credentials_without_bearer_support(client, settings):
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    settings.DPOP_ALLOWED_ALGORITHMS = ["ES256"]
    response = client.get(URL)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP algs="ES256"'


@pytest.mark.parametrize(
    "header", ["Basic YWxpY2U6c2VjcmV0", 'Digest username="alice", realm="api", nonce="x, y"']
)
def test_other_scheme_is_not_ours(client, header):
    # A comma inside another scheme's credentials is not "several credentials" (that is a 400).
    response = client.get(URL, headers={"Authorization": header})
    assert response.status_code == 401
    assert challenge_error(response) is None


# -- refusals ------------------------------------------------------------------------------------


def test_bound_token_as_bearer_is_refused(client, key, make_token, dot_classes):
    token = make_token(jkt=key.jkt)
    response = client.get(URL, headers={"Authorization": f"Bearer {token.token}"})
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"
    assert response.json()["detail"] == "DPoP-bound access token presented as Bearer"


def test_unbound_bearer_token_is_accepted(client, make_token, dot_classes):
    token = make_token()
    response = client.get(URL, headers={"Authorization": f"Bearer {token.token}"})
    assert response.status_code == 200, response.content
    assert response.json()["jkt"] is None


def test_unbound_bearer_token_refused_when_bearer_not_allowed(client, make_token, settings):
    settings.DPOP_ALLOW_BEARER_TOKENS = False
    token = make_token()
    response = client.get(URL, headers={"Authorization": f"Bearer {token.token}"})
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"
    assert not re.search(r"(^|, )Bearer", response.headers["WWW-Authenticate"])


def test_unknown_bearer_token_error_is_on_the_bearer_challenge(client, dot_classes):
    response = client.get(URL, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert challenge_error(response, "Bearer") == "invalid_token"
    assert challenge_error(response, "DPoP") is None


def test_dpop_scheme_with_unbound_token(client, key, make_token):
    token = make_token()
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"


def test_dpop_scheme_without_proof(client, key, make_token):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, None)
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"


def test_bearer_scheme_with_dpop_header(client, key, make_token):
    token = make_token()
    proof = make_proof(key, "GET", URL, access_token=token.token)
    response = dpop_get(client, token, proof, scheme="Bearer")
    assert response.status_code == 400
    assert challenge_error(response) == "invalid_request"


@pytest.mark.parametrize("header", ["DPoP {t}, Bearer {t}", "Bearer {t}, DPoP {t}", "DPoP {t},DPoP {t}"])
def test_several_authorization_values(client, key, make_token, header):
    # A server folds repeated header lines into one comma-separated value.
    token = make_token(jkt=key.jkt)
    response = client.get(
        URL,
        headers={
            "Authorization": header.format(t=token.token),
            "DPoP": make_proof(key, "GET", URL, access_token=token.token),
        },
    )
    assert response.status_code == 400
    assert challenge_error(response) == "invalid_request"


def test_several_dpop_headers(client, key, make_token):
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", URL, access_token=token.token)
    response = dpop_get(client, token, f"{proof}, {make_proof(key, 'GET', URL, access_token=token.token)}")
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"


@pytest.mark.parametrize("credentials", ["DPoP", "DPoP a b", "DPoP to=ken", "DPoP tök"])
def test_malformed_credentials(client, credentials):
    response = client.get(URL, headers={"Authorization": credentials})
    assert response.status_code == 400
    assert challenge_error(response) == "invalid_request"


def test_key_mismatch(client, key, other_key, make_token):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(other_key, "GET", URL, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"
    assert response.json()["detail"] == "Invalid DPoP key binding"


@pytest.mark.parametrize("ath", [None, "wrong", "other-token"])
def test_ath_missing_or_mismatched(client, key, make_token, ath):
    token = make_token(jkt=key.jkt)
    if ath == "other-token":
        proof = make_proof(key, "GET", URL, access_token="another-token")
    else:
        proof = make_proof(key, "GET", URL, claims={} if ath is None else {"ath": ath})
    response = dpop_get(client, token, proof)
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"


@pytest.mark.parametrize(
    ("htm", "htu"),
    [("POST", URL), ("GET", "http://testserver/api/other/"), ("GET", "https://testserver/api/me/")],
)
def test_htm_htu_mismatch(client, key, make_token, htm, htu):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, htm, htu, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"


def test_replayed_proof(client, key, make_token):
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", URL, access_token=token.token)
    assert dpop_get(client, token, proof).status_code == 200
    response = dpop_get(client, token, proof)
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"
    assert response.json()["detail"] == "DPoP proof replayed"


@pytest.mark.parametrize("case", ["unknown", "expired", "deleted"])
def test_unknown_or_expired_token(client, key, make_token, case):
    token = make_token(jkt=key.jkt, expires_in=-10 if case == "expired" else 3600)
    if case == "unknown":
        token.token = "never-issued"
    if case == "deleted":
        token.delete()
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"


def test_token_for_another_resource(client, key, make_token, settings):
    token = make_token(jkt=key.jkt, resource=["https://other.example.com/"])
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"


def test_bearer_token_for_another_resource(client, make_token, dot_classes):
    """RFC 8707 on the Bearer path too (DOT's check), with either validator."""
    other = make_token(resource=["https://other.example.com/"])
    response = client.get(URL, headers={"Authorization": f"Bearer {other.token}"})
    assert response.status_code == 401
    assert challenge_error(response, "Bearer") == "invalid_token"
    ours = make_token(resource=["http://testserver/api/"])
    assert client.get(URL, headers={"Authorization": f"Bearer {ours.token}"}).status_code == 200


def test_token_for_this_resource_behind_a_pinned_origin(client, key, make_token, settings):
    # RFC 8707: the audience is the public URI the client addressed (the proof's htu).
    settings.DPOP_HTU_BASE_URL = "https://api.example.com"
    token = make_token(jkt=key.jkt, resource=["https://api.example.com/api/"])
    proof = make_proof(key, "GET", "https://api.example.com/api/me/", access_token=token.token)
    assert dpop_get(client, token, proof).status_code == 200


def test_proof_is_checked_before_the_token_is_looked_up(client, key, django_assert_num_queries):
    # RFC 9449 §7.1: a broken proof is refused without touching the token table, so it cannot
    # be used to probe which tokens exist.
    proof = make_proof(key, "GET", URL, access_token="never-issued", claims={"htm": "PUT"})
    with django_assert_num_queries(0):
        response = client.get(URL, headers={"Authorization": "DPoP never-issued", "DPoP": proof})
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_dpop_proof"


def test_challenge_escapes_and_lists_algs(client, key, make_token, settings):
    settings.DPOP_ALLOWED_ALGORITHMS = ["ES256", "PS256"]
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, None)
    assert response.headers["WWW-Authenticate"] == (
        'DPoP error="invalid_dpop_proof", error_description="DPoP proof is missing", '
        'algs="ES256 PS256", Bearer realm="api"'
    )


def test_store_failure_is_503_not_acceptance(client, key, make_token, settings):
    settings.DPOP_REPLAY_STORE = "tests.contrib.rest_framework.conftest.FailingStore"
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 503
    assert response.json()["detail"] == "DPoP verification is temporarily unavailable."


def test_dot_class_first_turns_401_into_a_challenge_of_its_own(client):
    # Documented pitfall: only the first authenticator's challenge is used by DRF.
    response = client.get("http://testserver/api/bearer-first/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- nonces --------------------------------------------------------------------------------------


@pytest.fixture
def nonces_required(settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True


@pytest.mark.usefixtures("nonces_required")
def test_nonce_challenge_then_success(client, key, make_token):
    token = make_token(jkt=key.jkt)
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token))
    assert response.status_code == 401
    assert challenge_error(response) == "use_dpop_nonce"
    nonce = response.headers["DPoP-Nonce"]
    assert nonce and "," not in nonce
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token, nonce=nonce))
    assert response.status_code == 200, response.content
    assert "DPoP-Nonce" not in response.headers  # the nonce used is the current one


@pytest.mark.usefixtures("nonces_required")
def test_wrong_nonce(client, key, make_token):
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", URL, access_token=token.token, nonce="not-a-server-nonce")
    response = dpop_get(client, token, proof)
    assert response.status_code == 401
    assert challenge_error(response) == "use_dpop_nonce"
    assert response.headers["DPoP-Nonce"] != "not-a-server-nonce"


@pytest.mark.usefixtures("nonces_required")
def test_token_endpoint_nonce_is_no_good_at_the_resource(client, key, make_token):
    token = make_token(jkt=key.jkt)
    nonce = DatabaseNonceStore().issue("token")
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token, nonce=nonce))
    assert response.status_code == 401
    assert challenge_error(response) == "use_dpop_nonce"


@pytest.mark.usefixtures("nonces_required")
def test_stale_nonce_is_accepted_and_a_fresh_one_sent(client, key, make_token, settings):
    token = make_token(jkt=key.jkt)
    store = DatabaseNonceStore()
    previous = store.issue(RESOURCE, now=time.time() - rotation_period(conf.DPOP_NONCE_LIFETIME))
    response = dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token, nonce=previous))
    assert response.status_code == 200, response.content
    assert response.headers["DPoP-Nonce"] == store.issue(RESOURCE)
    assert response.headers["DPoP-Nonce"] != previous


@pytest.mark.usefixtures("nonces_required")
def test_stale_iat_with_nonces_asks_for_a_nonce(client, key, make_token):
    token = make_token(jkt=key.jkt)
    proof = make_proof(key, "GET", URL, access_token=token.token, iat=time.time() - 3600)
    response = dpop_get(client, token, proof)
    assert response.status_code == 401
    assert challenge_error(response) == "use_dpop_nonce"
    assert response.headers["DPoP-Nonce"]


def test_refused_proof_is_not_recorded(client, key, other_key, make_token):
    # The replay store records only proofs that passed every other check (RFC 9449 §11.1).
    token = make_token(jkt=key.jkt)
    dpop_get(client, token, make_proof(key, "GET", URL, access_token="wrong"))
    assert SeenProof.objects.count() == 0


# -- a resource server that introspects tokens at a remote authorization server (RFC 9449 §6.2) --


class RemoteAS:
    """What the authorization server's introspection endpoint answers, per token (None: inactive)."""

    responses: dict[str, dict[str, Any]] = {}
    calls = 0


class IntrospectingValidator(DPoPOAuth2Validator):
    """The DOT helper's validator with the HTTP call to the AS replaced by ``RemoteAS``."""

    def _introspect(self, token: str, *args: Any) -> dict[str, Any] | None:
        RemoteAS.calls += 1
        return RemoteAS.responses.get(token)


@pytest.fixture
def remote_as(settings: Any) -> type[RemoteAS]:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.IntrospectingValidator",
        "RESOURCE_SERVER_INTROSPECTION_URL": "https://as.example.com/o/introspect/",
        "RESOURCE_SERVER_AUTH_TOKEN": "rs-credential",
    }
    RemoteAS.responses, RemoteAS.calls = {}, 0
    return RemoteAS


def active(jkt: str | None, **extra: Any) -> dict[str, Any]:
    content = {"active": True, "scope": "read", "exp": int(time.time()) + 600, **extra}
    if jkt is not None:
        content.update(token_type="DPoP", cnf={"jkt": jkt})
    return content


def test_introspected_bound_token(client, key, other_key, remote_as):
    remote_as.responses["remote-token"] = active(key.jkt, username="bob")
    proof = make_proof(key, "GET", URL, access_token="remote-token")
    response = client.get(URL, headers={"Authorization": "DPoP remote-token", "DPoP": proof})
    assert response.status_code == 200, response.content
    assert response.json()["user"] == "bob" and response.json()["jkt"] == key.jkt
    # Cached with its binding: the next request asks the AS nothing and still checks the key.
    proof = make_proof(other_key, "GET", URL, access_token="remote-token")
    response = client.get(URL, headers={"Authorization": "DPoP remote-token", "DPoP": proof})
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"
    assert remote_as.calls == 1


@pytest.mark.parametrize("content", [None, {"active": False}, "unbound"])
def test_introspection_refusals(client, key, remote_as, content):
    if content == "unbound":
        content = active(None)
    if content is not None:
        remote_as.responses["remote-token"] = content
    proof = make_proof(key, "GET", URL, access_token="remote-token")
    response = client.get(URL, headers={"Authorization": "DPoP remote-token", "DPoP": proof})
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"


def test_token_of_an_unusable_application(client, key, make_token, monkeypatch):
    """DOT's ``Application.is_usable`` (a host's way to disable a client) applies to DPoP tokens too.

    It is called with an oauthlib request, as DOT calls it (a host's override may read it).
    """
    token = make_token(jkt=key.jkt)
    seen = []

    def is_usable(self: Any, request: Any) -> bool:
        seen.append((request.uri, request.http_method))
        return request.headers.get("HTTP_X_BLOCKED") is None  # DOT passes META

    monkeypatch.setattr(type(token.application), "is_usable", is_usable)
    headers = {"Authorization": f"DPoP {token.token}", "X-Blocked": "1"}
    headers["DPoP"] = make_proof(key, "GET", URL, access_token=token.token)
    response = client.get(URL + "?q=1", headers=headers)
    assert response.status_code == 401
    assert challenge_error(response) == "invalid_token"
    assert seen == [("/api/me/?q=1", "GET")]  # what DOT passes: the full path
    assert dpop_get(client, token, make_proof(key, "GET", URL, access_token=token.token)).status_code == 200
