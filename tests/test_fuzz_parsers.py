"""Property-based fuzzing of the header parsers: ``Authorization`` (RFC 6750 §2.1, RFC 9449 §7.1) and ``DPoP``.

The Authorization parser is ``django_dpop.resource.get_authorization`` (it moved there from
``django_dpop.contrib.oauth2_provider.resource``). Properties: only ``DPoPError`` escapes
(``InvalidRequest`` for a malformed or doubled DPoP/Bearer credential), and what is returned is
exactly one of our schemes with a token68 read from the header itself.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_dpop.core import DPoPError, InvalidDPoPProof, InvalidRequest
from django_dpop.proofs import RESOURCE, verify_request_proof
from django_dpop.resource import get_authorization
from tests.fuzzing import FUZZ


TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 9110 §11.2, written out again here
token68 = st.from_regex(TOKEN68, fullmatch=True).filter(lambda t: len(t) < 200)
schemes = st.sampled_from(
    ["DPoP", "dpop", "DPOP", "Bearer", "bearer", "Basic", "Digest", "Negotiate", "DPoP2"]
)
credentials = st.one_of(
    st.builds(
        lambda s, sp, t: f"{s}{sp}{t}",
        schemes,
        st.sampled_from([" ", "  ", "\t", ""]),
        token68 | st.text(max_size=30),
    ),
    st.builds(lambda a, b: f"{a}, {b}", schemes.map(lambda s: s + " x"), schemes.map(lambda s: s + " y")),
    st.text(max_size=60),
)


def parse(header: str) -> Any:
    return get_authorization(SimpleNamespace(META={"HTTP_AUTHORIZATION": header}))


@FUZZ
@given(
    credentials
    | st.builds(
        lambda pad, c, pad2: pad + c + pad2,
        st.sampled_from(["", " ", "\t"]),
        credentials,
        st.sampled_from(["", " ", "\n"]),
    )
)
def test_authorization_parser_only_refuses_with_invalid_request(header: str) -> None:
    try:
        parsed = parse(header)
    except DPoPError as exc:
        assert type(exc) is InvalidRequest, repr(exc)
        # Refused only when one of our schemes is there, malformed or beside another credential.
        assert re.search(r"(?i)\b(dpop|bearer)\b", header), header
        return
    if parsed is None:
        return
    assert parsed.scheme in ("dpop", "bearer")
    assert TOKEN68.fullmatch(parsed.token)
    stripped = header.strip()
    assert "," not in stripped
    assert stripped[: len(parsed.scheme)].lower() == parsed.scheme
    assert (
        stripped.endswith(parsed.token) and stripped[len(parsed.scheme) : -len(parsed.token)].strip(" ") == ""
    )


@FUZZ
@given(st.sampled_from(["DPoP", "Bearer"]), token68, st.sampled_from(["DPoP", "Bearer", "Basic"]), token68)
def test_two_credentials_with_one_of_ours_are_refused(
    ours: str, token: str, other: str, other_token: str
) -> None:
    for header in (f"{ours} {token}, {other} {other_token}", f"{other} {other_token}, {ours} {token}"):
        try:
            parse(header)
        except InvalidRequest:
            continue
        raise AssertionError(f"accepted {header!r}")
    assert parse(f"{ours} {token}").token == token  # control


@FUZZ
@given(
    st.text(max_size=200)
    | st.lists(st.text(alphabet="AZaz09-_", max_size=40), min_size=3, max_size=3).map(".".join)
)
def test_dpop_header_through_the_django_path_only_refuses(value: str) -> None:
    # The whole request path (get_proof, expected_htu, policy from settings); no replay store, so
    # that nothing touches the database.
    request = RequestFactory().get("/resource", HTTP_DPOP=value)
    with override_settings(DPOP_REPLAY_STORE=None):
        try:
            verify_request_proof(request, purpose=RESOURCE, access_token="token")
        except InvalidDPoPProof:
            return
    raise AssertionError(f"accepted {value!r}")
