"""Optional clock-skew correction: proofs stamped in the server's time (from its Date header)."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from django_dpop.client import DPoPAuth, DPoPKey, DPoPRequestsAuth, ServerClock
from tests.client.fake_server import ACCESS_TOKEN, FakeServer, httpx_transport, requests_session


URL = "https://rs.example/api/me/"


def test_offset_learned_per_origin() -> None:
    clock = ServerClock()
    now = 1_800_000_000
    clock.observe(URL, formatdate(now + 600, usegmt=True), now=now)
    assert clock.offset(URL) == 600
    assert clock.iat("https://rs.example:443/other", now=now) == now + 600
    assert clock.offset("https://as.example/") == 0


@pytest.mark.parametrize("date", [None, "", "yesterday", "Mon, 99 Foo 2026 25:61:00 GMT"])
def test_bad_date_headers_are_ignored(date: str | None) -> None:
    clock = ServerClock()
    clock.observe(URL, formatdate(time.time() + 300, usegmt=True))
    clock.observe(URL, date)
    assert 299 <= clock.offset(URL) <= 301


def test_small_and_absurd_offsets_are_ignored() -> None:
    clock = ServerClock(threshold=5)
    now = 1_800_000_000
    clock.observe(URL, formatdate(now + 3, usegmt=True), now=now)
    assert clock.offset(URL) == 0
    clock.observe(URL, formatdate(now - 600, usegmt=True), now=now)
    assert clock.offset(URL) == -600
    clock.observe(URL, formatdate(now + 2, usegmt=True), now=now)  # back in sync: forget the offset
    assert clock.offset(URL) == 0
    clock.observe(URL, formatdate(now + 10 * 86400, usegmt=True), now=now)
    assert clock.offset(URL) == 0


def test_skewed_client_recovers_through_the_nonce_retry() -> None:
    # The server's clock is 10 minutes ahead and it requires nonces, so a stale iat is answered
    # use_dpop_nonce (django-dpop's behaviour); the retry carries a corrected iat and succeeds.
    key = DPoPKey.generate()
    server = FakeServer(nonces={"/api/me/": "rs-1"}, clock_offset=600)
    auth = DPoPAuth(key, ACCESS_TOKEN, correct_clock_skew=True)
    response = httpx.Client(transport=httpx_transport(server)).get(URL, auth=auth)
    assert [seen.status for seen in server.seen] == [401, 200]
    assert response.status_code == 200
    first, second = (seen.claims for seen in server.seen)
    assert first is not None and second is not None
    assert 590 <= second["iat"] - first["iat"] <= 610
    # Shared by for_token(): the next auth starts in server time straight away.
    again = httpx.Client(transport=httpx_transport(server)).get(URL, auth=auth.for_token(ACCESS_TOKEN))
    assert again.status_code == 200 and len(server.seen) == 3


def test_without_correction_the_skewed_client_fails_after_one_retry() -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"}, clock_offset=600)
    response = httpx.Client(transport=httpx_transport(server)).get(
        URL, auth=DPoPAuth(DPoPKey.generate(), ACCESS_TOKEN)
    )
    assert response.status_code == 401
    assert len(server.seen) == 2


def test_requests_auth_corrects_too() -> None:
    server = FakeServer(nonces={"/api/me/": "rs-1"}, clock_offset=-900)
    auth = DPoPRequestsAuth(DPoPKey.generate("EdDSA"), ACCESS_TOKEN, correct_clock_skew=True)
    assert requests_session(server).get(URL, auth=auth).status_code == 200


def test_correction_is_off_by_default() -> None:
    server = FakeServer(clock_offset=600)
    http = httpx.Client(transport=httpx_transport(server))
    auth = DPoPAuth(DPoPKey.generate())
    http.get(URL, auth=auth.for_token(ACCESS_TOKEN))
    http.get(URL, auth=auth.for_token(ACCESS_TOKEN))
    claims = server.seen[-1].claims
    assert claims is not None and abs(claims["iat"] - time.time()) < 5
