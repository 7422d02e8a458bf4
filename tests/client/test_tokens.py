"""check_token_response: RFC 9449 §5 token_type handling."""

from __future__ import annotations

import json

import pytest

from django_dpop.client import TokenResponseError, check_token_response


TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


@pytest.mark.parametrize("token_type", ["DPoP", "dpop", "DPOP"])
def test_dpop_token_type_accepted_case_insensitively(token_type: str) -> None:
    data = {"access_token": TOKEN, "token_type": token_type, "expires_in": 60}
    assert check_token_response(data) == data
    assert check_token_response(json.dumps(data)) == data
    assert check_token_response(json.dumps(data).encode()) == data


def test_bearer_refused_when_dpop_required() -> None:
    with pytest.raises(TokenResponseError, match="RFC 9449 §5") as info:
        check_token_response({"access_token": TOKEN, "token_type": "Bearer"})
    assert TOKEN not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bearer_accepted_when_not_required() -> None:
    data = {"access_token": TOKEN, "token_type": "bearer"}
    assert check_token_response(data, require_dpop=False) == data


@pytest.mark.parametrize(
    "response",
    [
        "not json",
        "[]",
        {"token_type": "DPoP"},
        {"access_token": "", "token_type": "DPoP"},
        {"access_token": "has space", "token_type": "DPoP"},
        {"access_token": TOKEN},
        {"access_token": TOKEN, "token_type": 5},
        {"access_token": TOKEN, "token_type": "mac"},
        {"error": "invalid_grant"},
    ],
)
def test_unusable_responses_refused(response: object) -> None:
    with pytest.raises(TokenResponseError) as info:
        check_token_response(response, require_dpop=False)  # type: ignore[arg-type]
    assert "has space" not in str(info.value)
