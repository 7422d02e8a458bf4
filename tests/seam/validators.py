"""Validators of the seam tests: static tables of tokens, recording every call."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from django_dpop.core.errors import InvalidToken, StoreUnavailable
from django_dpop.tokens import AccessTokenValidator, TokenClaims, ValidatedToken


class StaticValidator(AccessTokenValidator):
    """Knows the tokens of ``tokens`` (raw token -> ValidatedToken); None for any other."""

    def __init__(self, tokens: dict[str, ValidatedToken] | None = None, log: list[Any] | None = None) -> None:
        self.tokens = tokens if tokens is not None else {}
        self.log = log if log is not None else []

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        self.log.append((self, token, scheme))
        return self.tokens.get(token)


class RefusingValidator(StaticValidator):
    """Claims every token and refuses it (its own but expired, say)."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        self.log.append((self, token, scheme))
        raise InvalidToken("The access token expired")


class DownValidator(StaticValidator):
    """Its source cannot answer (JWKS or introspection endpoint down)."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        self.log.append((self, token, scheme))
        raise StoreUnavailable("introspection endpoint unreachable")


class BuggyValidator(StaticValidator):
    """Raises what no validator should: the pipeline must fail closed (503), never 500 or accept."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        self.log.append((self, token, scheme))
        raise KeyError("bug")


class WrongAnswerValidator(StaticValidator):
    """Answers True instead of a ValidatedToken."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> Any:
        self.log.append((self, token, scheme))
        return True


def claims_token(jkt: str | None, scope: str = "read", sub: str = "alice") -> ValidatedToken:
    """A token that is no DOT row: ``auth`` is a TokenClaims, no user."""
    claims: dict[str, Any] = {"sub": sub, "scope": scope, "client_id": "c1"}
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    return ValidatedToken(
        auth=TokenClaims(claims=claims, scope=scope, source="static"),
        user=None,
        jkt=jkt,
        scopes=frozenset(scope.split()),
    )


class EnvironmentValidator(AccessTokenValidator):
    """For the no-DOT subprocess: the bound token ``good`` with the jkt in ``DPOP_TEST_JKT``."""

    def validate(self, request: HttpRequest, token: str, *, scheme: str) -> ValidatedToken | None:
        import os

        if token != "good-token":
            return None
        return claims_token(os.environ["DPOP_TEST_JKT"])
