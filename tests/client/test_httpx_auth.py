"""DPoPAuth with httpx (sync and async): the server is faked only at the transport."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import httpx
import jwt
import pytest

from django_dpop.client import DPoPAuth, DPoPKey, NonceCache, TokenResponseError, compute_ath
from tests.client.fake_server import ACCESS_TOKEN, TOKEN_PATH, FakeServer, httpx_transport


AS = "https://as.example"
RS = "https://rs.example"
TOKEN_URL = AS + TOKEN_PATH
FORM = {"grant_type": "client_credentials", "client_id": "c1"}


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey.generate()


def client(server: FakeServer) -> httpx.Client:
    return httpx.Client(transport=httpx_transport(server))


def test_token_request_carries_a_proof_only(key: DPoPKey) -> None:
    server = FakeServer()
    response = client(server).post(TOKEN_URL, data=FORM, auth=DPoPAuth(key))
    assert response.status_code == 200
    (seen,) = server.seen
    assert "authorization" not in {name.lower() for name in seen.headers}
    assert seen.claims is not None and "ath" not in seen.claims and "nonce" not in seen.claims
    assert seen.claims["htm"] == "POST" and seen.claims["htu"] == TOKEN_URL


def test_resource_request_carries_proof_with_ath_and_authorization(key: DPoPKey) -> None:
    server = FakeServer()
    response = client(server).get(RS + "/api/me/?q=1#x", auth=DPoPAuth(key, ACCESS_TOKEN))
    assert response.status_code == 200
    (seen,) = server.seen
    assert seen.headers["authorization"] == f"DPoP {ACCESS_TOKEN}"
    assert seen.claims is not None
    assert seen.claims["ath"] == compute_ath(ACCESS_TOKEN)
    assert seen.claims["htu"] == RS + "/api/me/"


def test_token_endpoint_use_dpop_nonce_is_retried_once_with_body(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-nonce-1"})
    response = client(server).post(TOKEN_URL, data=FORM, auth=DPoPAuth(key))
    assert response.status_code == 200
    first, second = server.seen
    assert (first.status, second.status) == (400, 200)
    assert first.claims is not None and second.claims is not None
    assert "nonce" not in first.claims and second.claims["nonce"] == "as-nonce-1"
    assert first.claims["jti"] != second.claims["jti"]
    assert first.body == second.body == b"grant_type=client_credentials&client_id=c1"
    assert len(response.history) == 1 and response.history[0].status_code == 400


def test_resource_use_dpop_nonce_is_retried_once(key: DPoPKey) -> None:
    server = FakeServer(nonces={"/api/me/": "rs-nonce-1"})
    response = client(server).post(RS + "/api/me/", json={"a": 1}, auth=DPoPAuth(key, ACCESS_TOKEN))
    assert response.status_code == 200
    first, second = server.seen
    assert (first.status, second.status) == (401, 200)
    assert second.claims is not None and second.claims["nonce"] == "rs-nonce-1"
    assert second.claims["ath"] == compute_ath(ACCESS_TOKEN)
    assert first.claims is not None and first.claims["jti"] != second.claims["jti"]
    # The retry resends the very bytes of the first attempt (httpx's JSON spacing varies by version).
    assert first.body == second.body and json.loads(second.body) == {"a": 1}


@pytest.mark.parametrize(
    ("url", "token", "status"), [(TOKEN_URL, None, 400), (RS + "/api/me/", ACCESS_TOKEN, 401)]
)
def test_no_second_retry_when_the_server_insists(
    key: DPoPKey, url: str, token: str | None, status: int
) -> None:
    server = FakeServer(insist={"/o/token/", "/api/me/"})
    response = client(server).post(url, data=FORM, auth=DPoPAuth(key, token))
    assert response.status_code == status
    assert len(server.seen) == 2  # the request and exactly one retry
    nonces = [
        seen.claims["nonce"] if seen.claims and "nonce" in seen.claims else None for seen in server.seen
    ]
    assert nonces == [None, "n1-" + url.split("/", 3)[3].strip("/").replace("/", "_")]


def test_no_retry_without_a_nonce_to_use(key: DPoPKey) -> None:
    server = FakeServer()

    def handler(request: httpx.Request) -> httpx.Response:
        server.handle(request.method, str(request.url), dict(request.headers), request.read())
        return httpx.Response(400, json={"error": "use_dpop_nonce"})  # but no DPoP-Nonce header

    response = httpx.Client(transport=httpx.MockTransport(handler)).post(TOKEN_URL, auth=DPoPAuth(key))
    assert response.status_code == 400
    assert len(server.seen) == 1


def test_other_errors_are_not_retried(key: DPoPKey) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"', "DPoP-Nonce": "abc"}
        )

    response = httpx.Client(transport=httpx.MockTransport(handler)).get(
        RS + "/x", auth=DPoPAuth(key, ACCESS_TOKEN)
    )
    assert response.status_code == 401 and len(calls) == 1


def test_nonce_is_cached_per_origin_and_updated_from_2xx(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1"}, rotate_on_success={TOKEN_PATH})
    http = client(server)
    auth = DPoPAuth(key)
    assert http.post(TOKEN_URL, data=FORM, auth=auth).status_code == 200  # 400, retry with as-1, 200 + n1
    rotated = server.nonces[TOKEN_PATH]
    assert auth.nonce_cache.get(TOKEN_URL, "token") == rotated
    assert http.post(TOKEN_URL, data=FORM, auth=auth).status_code == 200  # no round trip lost
    assert [seen.status for seen in server.seen] == [400, 200, 200]
    assert server.seen[2].claims is not None and server.seen[2].claims["nonce"] == rotated
    # Another origin (another port) starts without a nonce.
    assert http.post("https://as.example:8443" + TOKEN_PATH, data=FORM, auth=auth).status_code == 200
    assert server.seen[3].claims is not None and "nonce" not in server.seen[3].claims


def test_nonce_is_learned_from_error_responses_too(key: DPoPKey) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, headers={"DPoP-Nonce": "from-403"})

    auth = DPoPAuth(key, ACCESS_TOKEN)
    httpx.Client(transport=httpx.MockTransport(handler)).get(RS + "/a", auth=auth)
    assert auth.nonce_cache.get(RS + "/b", "resource") == "from-403"


def test_invalid_nonce_header_is_ignored(key: DPoPKey) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"DPoP-Nonce": 'bad "nonce"'})

    auth = DPoPAuth(key)
    httpx.Client(transport=httpx.MockTransport(handler)).get(RS + "/a", auth=auth)
    assert auth.nonce_cache.get(RS + "/a", "token") is None


def test_token_and_resource_nonces_are_kept_apart(key: DPoPKey) -> None:
    # One origin hosting both (as the example project): a token-endpoint nonce is not sent to the API.
    server = FakeServer(nonces={TOKEN_PATH: "as-1"})
    http = client(server)
    token_auth = DPoPAuth(key)
    assert http.post(AS + TOKEN_PATH, data=FORM, auth=token_auth).status_code == 200
    api_auth = token_auth.for_token_response(server_token_response())
    assert api_auth.nonce_cache is token_auth.nonce_cache
    assert http.get(AS + "/api/me/", auth=api_auth).status_code == 200
    assert server.seen[-1].claims is not None and "nonce" not in server.seen[-1].claims


def server_token_response() -> dict[str, object]:
    return {"access_token": ACCESS_TOKEN, "token_type": "DPoP", "expires_in": 300}


def test_for_token_response_refuses_bearer(key: DPoPKey) -> None:
    auth = DPoPAuth(key)
    with pytest.raises(TokenResponseError, match="DPoP"):
        auth.for_token_response({"access_token": ACCESS_TOKEN, "token_type": "Bearer"})
    resource = auth.for_token_response({"access_token": ACCESS_TOKEN, "token_type": "dpop"})
    assert resource.has_token and resource.key is key


def test_async_client_retries_once(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1", "/api/me/": "rs-1"})

    async def run() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=httpx_transport(server)) as http:
            token_auth = DPoPAuth(key)
            token_response = await http.post(TOKEN_URL, data=FORM, auth=token_auth)
            api = await http.get(RS + "/api/me/", auth=token_auth.for_token_response(token_response.json()))
            return token_response.status_code, api.status_code

    assert asyncio.run(run()) == (200, 200)
    assert [seen.status for seen in server.seen] == [400, 200, 401, 200]
    assert server.seen[0].body == server.seen[1].body


def test_streamed_request_body_is_resent(key: DPoPKey) -> None:
    server = FakeServer(nonces={TOKEN_PATH: "as-1"})

    def chunks():  # type: ignore[no-untyped-def]
        yield b"grant_type="
        yield b"client_credentials"

    response = client(server).post(TOKEN_URL, content=chunks(), auth=DPoPAuth(key))
    assert response.status_code == 200
    assert server.seen[0].body == server.seen[1].body == b"grant_type=client_credentials"


def test_proofs_verify_independently(key: DPoPKey) -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"})
    client(server).get(RS + "/api/me/", auth=DPoPAuth(key, ACCESS_TOKEN))
    for seen in server.seen:
        proof = next(value for name, value in seen.headers.items() if name.lower() == "dpop")
        header = jwt.get_unverified_header(proof)
        assert header["jwk"] == key.public_jwk
        jwt.decode(proof, key=jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])


def test_repr_and_logs_never_show_token_or_key(key: DPoPKey, caplog: pytest.LogCaptureFixture) -> None:
    auth = DPoPAuth(key, ACCESS_TOKEN)
    private = key.to_jwk()["d"]
    text = repr(auth) + str(auth) + repr(auth.nonce_cache)
    assert ACCESS_TOKEN not in text and private not in text and key.thumbprint in text
    server = FakeServer(insist={"/api/me/"})
    with caplog.at_level(logging.DEBUG):
        client(server).get(RS + "/api/me/?secret=1", auth=auth)
        client(FakeServer(nonces={TOKEN_PATH: "x"})).post(TOKEN_URL, auth=DPoPAuth(key))
    assert "retrying once" in caplog.text
    for record in caplog.records:
        message = record.getMessage()
        assert ACCESS_TOKEN not in message and private not in message
        if record.name.startswith("django_dpop"):
            assert "secret=1" not in message  # ours log the origin only (httpx logs its request line)


def test_constructor_refuses_bad_input(key: DPoPKey) -> None:
    with pytest.raises(TypeError):
        DPoPAuth("not a key")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token68"):
        DPoPAuth(key, "two words")


def test_shared_auth_across_threads(key: DPoPKey) -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"})
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            status, headers, body = server.handle(
                request.method, str(request.url), dict(request.headers), b""
            )
        return httpx.Response(status, headers=headers, content=body)

    auth = DPoPAuth(key, ACCESS_TOKEN, nonce_cache=NonceCache())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert http.get(RS + "/api/me/", auth=auth).status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(server.seen) >= 120 and sum(seen.status == 200 for seen in server.seen) == 120
    assert len({seen.claims["jti"] for seen in server.seen if seen.claims}) == len(server.seen)
