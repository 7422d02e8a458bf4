"""DPoPRequestsAuth: the server is faked only at a mounted requests adapter."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import requests

from django_dpop.client import DPoPKey, DPoPRequestsAuth, TokenResponseError, compute_ath
from tests.client.fake_server import ACCESS_TOKEN, TOKEN_PATH, FakeServer, Seen, requests_session


AS = "https://as.example"
RS = "https://rs.example"
TOKEN_URL = AS + TOKEN_PATH
FORM = {"grant_type": "client_credentials", "client_id": "c1"}
FORM_BODY = b"grant_type=client_credentials&client_id=c1"


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey.generate("EdDSA")


def test_token_request_proof_only(key: DPoPKey) -> None:
    server = FakeServer()
    response = requests_session(server).post(TOKEN_URL, data=FORM, auth=DPoPRequestsAuth(key))
    assert response.status_code == 200
    (seen,) = server.seen
    assert "Authorization" not in seen.headers
    assert seen.claims is not None and "ath" not in seen.claims


def test_resource_request_proof_and_authorization(key: DPoPKey) -> None:
    server = FakeServer()
    response = requests_session(server).get(RS + "/api/me/?a=b", auth=DPoPRequestsAuth(key, ACCESS_TOKEN))
    assert response.status_code == 200
    (seen,) = server.seen
    assert seen.headers["Authorization"] == f"DPoP {ACCESS_TOKEN}"
    assert seen.claims is not None and seen.claims["ath"] == compute_ath(ACCESS_TOKEN)
    assert seen.claims["htu"] == RS + "/api/me/"


def test_token_endpoint_retry_once_resends_body(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1"})
    response = requests_session(server).post(TOKEN_URL, data=FORM, auth=DPoPRequestsAuth(key))
    assert response.status_code == 200
    first, second = server.seen
    assert (first.status, second.status) == (400, 200)
    assert first.claims is not None and second.claims is not None
    assert "nonce" not in first.claims and second.claims["nonce"] == "as-1"
    assert first.claims["jti"] != second.claims["jti"]
    assert first.body == second.body == FORM_BODY
    assert [r.status_code for r in response.history] == [400]
    assert response.request.headers["DPoP"] != response.history[0].request.headers["DPoP"]


def test_resource_retry_once(key: DPoPKey) -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"})
    response = requests_session(server).put(
        RS + "/api/me/", json={"x": 1}, auth=DPoPRequestsAuth(key, ACCESS_TOKEN)
    )
    assert response.status_code == 200
    first, second = server.seen
    assert (first.status, second.status) == (401, 200)
    assert second.claims is not None and second.claims["nonce"] == "rs-1" and second.claims["htm"] == "PUT"
    assert first.body == second.body == b'{"x": 1}'


def test_file_body_is_rewound_for_the_retry(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1"})
    body = io.BytesIO(b"prefix" + FORM_BODY)
    body.read(6)  # requests resends from where the body started, not from 0
    response = requests_session(server).post(TOKEN_URL, data=body, auth=DPoPRequestsAuth(key))
    assert response.status_code == 200
    assert server.seen[0].body == server.seen[1].body == FORM_BODY


def test_one_shot_stream_body_is_not_retried(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1"})

    def chunks():  # type: ignore[no-untyped-def]
        yield FORM_BODY

    response = requests_session(server).post(TOKEN_URL, data=chunks(), auth=DPoPRequestsAuth(key))
    assert response.status_code == 400
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("url", "token", "status"), [(TOKEN_URL, None, 400), (RS + "/api/me/", ACCESS_TOKEN, 401)]
)
def test_no_second_retry_when_the_server_insists(
    key: DPoPKey, url: str, token: str | None, status: int
) -> None:
    server = FakeServer(insist={"/o/token/", "/api/me/"})
    response = requests_session(server).post(url, data=FORM, auth=DPoPRequestsAuth(key, token))
    assert response.status_code == status
    assert len(server.seen) == 2
    assert server.seen[1].claims is not None and server.seen[1].claims["nonce"].startswith("n1-")


def test_a_retry_is_never_retried_again(key: DPoPKey) -> None:
    """Whatever layer hands the retry's answer to the hook again (a hook-dispatching adapter,
    a session hook), it is returned as is: one retry per request, never a loop."""
    server = FakeServer(insist={"/api/me/"})
    auth = DPoPRequestsAuth(key, ACCESS_TOKEN)
    final = requests_session(server).get(RS + "/api/me/", auth=auth)
    assert len(server.seen) == 2
    assert auth._handle_response(final) is final
    assert len(server.seen) == 2


class RedirectingServer(FakeServer):
    """``/moved/`` on the API redirects to another host, which asks for a nonce, whatever the proof."""

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Any:
        if url == RS + "/moved/":
            self.seen.append(Seen(method, url, dict(headers), body, None, 302))
            return 302, {"Location": "https://elsewhere.example/api/me/"}, b""
        if url.startswith("https://elsewhere.example/"):
            self.seen.append(Seen(method, url, dict(headers), body, None, 401))
            challenge = 'DPoP error="use_dpop_nonce", error_description="nonce required"'
            return 401, {"WWW-Authenticate": challenge, "DPoP-Nonce": self.new_nonce("/elsewhere/")}, b""
        return super().handle(method, url, headers, body)


def test_a_redirect_is_not_re_signed_with_the_token(key: DPoPKey) -> None:
    """requests follows redirects by default and copies the request for each hop: a copy is
    never signed again (it would send ``Authorization: DPoP <token>`` wherever it points)."""
    server = RedirectingServer()
    response = requests_session(server).get(RS + "/moved/", auth=DPoPRequestsAuth(key, ACCESS_TOKEN))
    assert response.status_code == 401
    elsewhere = [seen for seen in server.seen if seen.url.startswith("https://elsewhere.example")]
    assert len(elsewhere) == 1  # followed once, not retried
    assert all(ACCESS_TOKEN not in value for seen in elsewhere for value in seen.headers.values())


def test_nonce_cached_per_origin_and_updated_from_2xx(key: DPoPKey) -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"}, rotate_on_success={"/api/me/"})
    session = requests_session(server)
    auth = DPoPRequestsAuth(key, ACCESS_TOKEN)
    assert session.get(RS + "/api/me/", auth=auth).status_code == 200
    rotated = server.nonces["/api/me/"]
    assert session.get(RS + "/api/me/", auth=auth).status_code == 200
    assert [seen.status for seen in server.seen] == [401, 200, 200]
    assert server.seen[2].claims is not None and server.seen[2].claims["nonce"] == rotated
    assert auth.nonce_cache.get("https://other.example/api/me/", "resource") is None
    assert auth.nonce_cache.get("HTTPS://RS.EXAMPLE:443/anything", "resource") == server.nonces["/api/me/"]


def test_session_auth_and_for_token_response(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1", "/api/me/": "rs-1"})
    session = requests_session(server)
    session.auth = DPoPRequestsAuth(key)
    token_response = session.post(TOKEN_URL, data=FORM)
    session.auth = session.auth.for_token_response(token_response.json())
    assert session.get(RS + "/api/me/").status_code == 200
    assert [seen.status for seen in server.seen] == [400, 200, 401, 200]
    with pytest.raises(TokenResponseError):
        DPoPRequestsAuth(key).for_token_response({"access_token": "x", "token_type": "Bearer"})


def test_repr_and_logs(key: DPoPKey, caplog: pytest.LogCaptureFixture) -> None:
    auth = DPoPRequestsAuth(key, ACCESS_TOKEN)
    assert ACCESS_TOKEN not in repr(auth) and key.to_jwk()["d"] not in repr(auth)
    with caplog.at_level(logging.DEBUG):
        requests_session(FakeServer(insist={"/api/me/"})).get(RS + "/api/me/", auth=auth)
    assert caplog.records
    assert all(ACCESS_TOKEN not in record.getMessage() for record in caplog.records)


def test_is_a_requests_auth(key: DPoPKey) -> None:
    assert isinstance(DPoPRequestsAuth(key), requests.auth.AuthBase)
