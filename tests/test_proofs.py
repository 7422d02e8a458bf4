"""``django_dpop.proofs`` end to end: Django requests, the live settings and the real stores."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import override_settings

from django_dpop import storage
from django_dpop.core.errors import InvalidDPoPProof, ReplayedProof, StoreUnavailable, UseDPoPNonce
from django_dpop.core.nonces import is_nonce_syntax
from django_dpop.core.stores import NonceStatus
from django_dpop.models import SeenProof, ServerNonce
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, issue_nonce, next_nonce, verify_request_proof
from django_dpop.storage import CacheReplayStore
from tests.factories import TestKey, make_key, make_proof


pytestmark = pytest.mark.django_db

URL = "http://testserver/api/things"
TOKEN_URL = "http://testserver/o/token/"
PERIOD = 150  # the rotation period of the default DPOP_NONCE_LIFETIME
SIGNED = "django_dpop.storage.SignedNonceStore"
DATABASE = "django_dpop.storage.DatabaseNonceStore"
NONCE_STORES = [pytest.param(DATABASE, id="database"), pytest.param(SIGNED, id="signed")]
_KEY: list[TestKey] = []


@pytest.fixture
def key() -> TestKey:
    if not _KEY:
        _KEY.append(make_key("ES256"))
    return _KEY[0]


def get(proof: str | None, path: str = "/api/things") -> Any:
    headers = {"HTTP_DPOP": proof} if proof is not None else {}
    return RequestFactory().get(path, **headers)


def post_token(proof: str) -> Any:
    return RequestFactory().post("/o/token/", {"grant_type": "client_credentials"}, HTTP_DPOP=proof)


def drop_table(model: type) -> None:
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(f"DROP TABLE {model._meta.db_table}")


class BrokenStore:
    """A store whose backend is down: every call raises."""

    def check_and_add(self, key: str, expires_at: int) -> bool:
        raise ConnectionError("replay backend down")

    def issue(self, purpose: str) -> str:
        raise ConnectionError("nonce backend down")

    def check(self, nonce: str, purpose: str) -> NonceStatus:
        raise ConnectionError("nonce backend down")


class UnbuildableStore:
    def __init__(self) -> None:
        raise RuntimeError("cannot connect")


# --- replay ---------------------------------------------------------------------------------------


def test_proof_is_accepted_once_and_recorded_until_its_window_ends(key: TestKey) -> None:
    iat = int(time.time()) - 100
    proof = make_proof(key, "GET", URL, iat=iat)
    verified = verify_request_proof(get(proof), purpose=RESOURCE)
    assert verified.jkt == key.jkt
    assert verified.htu == URL
    row = SeenProof.objects.get()
    assert row.key == verified.replay_key
    assert row.expires_at == datetime.datetime.fromtimestamp(iat + 300 + 60, tz=datetime.UTC)
    with pytest.raises(ReplayedProof):
        verify_request_proof(get(proof), purpose=RESOURCE)
    assert SeenProof.objects.count() == 1


def test_another_proof_of_the_same_key_is_accepted(key: TestKey) -> None:
    verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
    verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
    assert SeenProof.objects.count() == 2


def test_replay_refused_with_the_cache_store(key: TestKey) -> None:
    proof = make_proof(key, "GET", URL, jti="cache-store-jti-" + str(time.time()))
    with override_settings(DPOP_REPLAY_STORE="django_dpop.storage.CacheReplayStore"):
        caches["default"].add(CacheReplayStore.MARKER_KEY, 0, None)  # a store that remembers
        verify_request_proof(get(proof), purpose=RESOURCE)
        with pytest.raises(ReplayedProof):
            verify_request_proof(get(proof), purpose=RESOURCE)
    assert not SeenProof.objects.exists()


def test_replay_detection_disabled_accepts_a_replay(key: TestKey) -> None:
    # What the system check W002 warns about.
    proof = make_proof(key, "GET", URL)
    with override_settings(DPOP_REPLAY_STORE=None):
        verify_request_proof(get(proof), purpose=RESOURCE)
        verify_request_proof(get(proof), purpose=RESOURCE)
    assert not SeenProof.objects.exists()


def test_refused_proof_is_not_recorded(key: TestKey) -> None:
    proof = make_proof(key, "GET", "http://testserver/elsewhere")
    with pytest.raises(InvalidDPoPProof):
        verify_request_proof(get(proof), purpose=RESOURCE)
    assert not SeenProof.objects.exists()


# --- nonces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", NONCE_STORES)
def test_nonce_required_then_retry_with_the_given_nonce(key: TestKey, store: str) -> None:
    with override_settings(DPOP_NONCE_REQUIRED=True, DPOP_NONCE_STORE=store):
        with pytest.raises(UseDPoPNonce) as refused:
            verify_request_proof(post_token(make_proof(key, "POST", TOKEN_URL)), purpose=TOKEN_ENDPOINT)
        nonce = refused.value.nonce
        assert is_nonce_syntax(nonce)
        assert not SeenProof.objects.exists()  # the refused proof was not recorded
        verified = verify_request_proof(
            post_token(make_proof(key, "POST", TOKEN_URL, nonce=nonce)), purpose=TOKEN_ENDPOINT
        )
        assert verified.nonce == nonce
        assert verified.nonce_stale is False
        assert next_nonce(verified, TOKEN_ENDPOINT) is None


@pytest.mark.parametrize("store", NONCE_STORES)
def test_nonce_of_the_token_endpoint_is_refused_at_a_resource(key: TestKey, store: str) -> None:
    with override_settings(DPOP_NONCE_REQUIRED=True, DPOP_NONCE_STORE=store):
        token_nonce = issue_nonce(TOKEN_ENDPOINT)
        with pytest.raises(UseDPoPNonce) as refused:
            verify_request_proof(get(make_proof(key, "GET", URL, nonce=token_nonce)), purpose=RESOURCE)
        resource_nonce = refused.value.nonce
        assert resource_nonce != token_nonce
        verify_request_proof(get(make_proof(key, "GET", URL, nonce=resource_nonce)), purpose=RESOURCE)


@pytest.mark.parametrize("store", NONCE_STORES)
def test_stale_but_valid_nonce_passes_and_next_nonce_is_the_newer_one(
    key: TestKey, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    with override_settings(DPOP_NONCE_REQUIRED=True, DPOP_NONCE_STORE=store):
        monkeypatch.setattr(storage, "clock", lambda: now - PERIOD)
        old = issue_nonce(RESOURCE)
        monkeypatch.setattr(storage, "clock", lambda: now)
        verified = verify_request_proof(get(make_proof(key, "GET", URL, nonce=old)), purpose=RESOURCE)
        assert verified.nonce_stale is True
        newer = next_nonce(verified, RESOURCE)
        assert newer is not None and newer != old
        assert newer == issue_nonce(RESOURCE)
        assert (
            next_nonce(
                verify_request_proof(get(make_proof(key, "GET", URL, nonce=newer)), purpose=RESOURCE),
                RESOURCE,
            )
            is None
        )


@pytest.mark.parametrize("store", NONCE_STORES)
def test_expired_nonce_asks_for_a_fresh_one(
    key: TestKey, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    with override_settings(DPOP_NONCE_REQUIRED=True, DPOP_NONCE_STORE=store):
        monkeypatch.setattr(storage, "clock", lambda: now - 2 * PERIOD)
        expired = issue_nonce(RESOURCE)
        monkeypatch.setattr(storage, "clock", lambda: now)
        with pytest.raises(UseDPoPNonce) as refused:
            verify_request_proof(get(make_proof(key, "GET", URL, nonce=expired)), purpose=RESOURCE)
        assert refused.value.nonce == issue_nonce(RESOURCE) != expired


def test_nonce_is_shared_by_workers_through_the_database(key: TestKey) -> None:
    with override_settings(DPOP_NONCE_REQUIRED=True, DPOP_NONCE_STORE=DATABASE):
        with pytest.raises(UseDPoPNonce) as first:
            verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
        with pytest.raises(UseDPoPNonce) as second:  # each call builds its own store instance
            verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
    assert first.value.nonce == second.value.nonce
    assert ServerNonce.objects.count() == 1


def test_stale_iat_with_nonces_asks_for_a_nonce(key: TestKey) -> None:
    with override_settings(DPOP_NONCE_REQUIRED=True):
        nonce = issue_nonce(RESOURCE)
        old_proof = make_proof(key, "GET", URL, nonce=nonce, iat=int(time.time()) - 3600)
        with pytest.raises(UseDPoPNonce) as refused:
            verify_request_proof(get(old_proof), purpose=RESOURCE)
    assert refused.value.nonce == nonce


class _PostgresRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return "postgres" if model._meta.app_label == "django_dpop" else None

    db_for_write = db_for_read


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_nonce_retry_works_when_the_refused_request_is_rolled_back_postgres(key: TestKey) -> None:
    # ATOMIC_REQUESTS: the refusal (use_dpop_nonce) is rolled back, but the nonce it carried stays.
    routed = {"DATABASE_ROUTERS": [f"{__name__}._PostgresRouter"], "DPOP_NONCE_REQUIRED": True}
    with override_settings(**routed):
        with transaction.atomic(using="postgres"), pytest.raises(UseDPoPNonce) as refused:
            try:
                verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
            finally:
                transaction.set_rollback(True, using="postgres")
        with transaction.atomic(using="postgres"):
            verified = verify_request_proof(
                get(make_proof(key, "GET", URL, nonce=refused.value.nonce)), purpose=RESOURCE
            )
    assert verified.nonce == refused.value.nonce
    assert SeenProof.objects.using("postgres").filter(key=verified.replay_key).exists()


# --- failing stores fail closed --------------------------------------------------------------------


def test_failing_replay_store_refuses(key: TestKey) -> None:
    with override_settings(DPOP_REPLAY_STORE=f"{__name__}.BrokenStore"), pytest.raises(StoreUnavailable):
        verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)


def test_database_replay_store_without_its_table_refuses(key: TestKey) -> None:
    drop_table(SeenProof)
    with pytest.raises(StoreUnavailable) as refused:
        verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
    assert "seenproof" in str(refused.value.__cause__)


def test_replay_store_that_cannot_be_built_refuses(key: TestKey) -> None:
    with override_settings(DPOP_REPLAY_STORE=f"{__name__}.UnbuildableStore"), pytest.raises(StoreUnavailable):
        verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)


def test_failing_nonce_store_refuses_when_checking(key: TestKey) -> None:
    settings = {"DPOP_NONCE_REQUIRED": True, "DPOP_NONCE_STORE": f"{__name__}.BrokenStore"}
    with override_settings(**settings), pytest.raises(StoreUnavailable):
        verify_request_proof(get(make_proof(key, "GET", URL, nonce="some-nonce")), purpose=RESOURCE)
    assert not SeenProof.objects.exists()


def test_failing_nonce_store_refuses_when_issuing(key: TestKey) -> None:
    settings = {"DPOP_NONCE_REQUIRED": True, "DPOP_NONCE_STORE": f"{__name__}.BrokenStore"}
    with override_settings(**settings):
        with pytest.raises(StoreUnavailable):
            verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
        with pytest.raises(StoreUnavailable):
            issue_nonce(RESOURCE)


def test_database_nonce_store_without_its_table_refuses(key: TestKey) -> None:
    with override_settings(DPOP_NONCE_REQUIRED=True):
        nonce = issue_nonce(RESOURCE)
        drop_table(ServerNonce)
        with pytest.raises(StoreUnavailable):
            verify_request_proof(get(make_proof(key, "GET", URL, nonce=nonce)), purpose=RESOURCE)
        with pytest.raises(StoreUnavailable):
            verify_request_proof(get(make_proof(key, "GET", URL)), purpose=RESOURCE)
