"""RFC 9449 and RFC 7638 examples as test vectors (shared/research/anchors.md §g)."""

from __future__ import annotations

import pytest

from django_dpop.core import (
    InvalidDPoPProof,
    ProofPolicy,
    ReplayedProof,
    compute_ath,
    jwk_thumbprint,
    verify_proof,
)


RFC_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
}
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOX"
    "pDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImN"
    "ydiI6IlAtMjU2In19"
)
TOKEN_REQUEST_PROOF = (
    _HEADER
    + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva"
    "2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nf"
    "bV37xRZT3Lg"
)
REFRESH_PROOF = (
    _HEADER
    + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva"
    "2VuIiwiaWF0IjoxNTYyMjY1Mjk2fQ.pAqut2IRDm_De6PR93SYmGBPXpwrAk90e8cP2hjiaG5QsGSuKDYW7_X620BxqhvYC8ynrrvZLTk"
    "41mSRroapUA"
)
RESOURCE_PROOF = (
    _HEADER
    + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm"
    "90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcW"
    "tzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
RFC7638_RSA_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZ"
        "CiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJ"
        "ZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBn"
        "iIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
POLICY = ProofPolicy(allowed_algorithms=("ES256",))


def test_rfc9449_thumbprint() -> None:
    assert jwk_thumbprint(RFC_JWK) == RFC_JKT


def test_rfc7638_rsa_thumbprint_ignores_optional_members() -> None:
    assert jwk_thumbprint(RFC7638_RSA_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rfc9449_ath() -> None:
    assert compute_ath(RFC_ACCESS_TOKEN) == RFC_ATH


def test_token_request_proof_verifies() -> None:
    proof = verify_proof(
        TOKEN_REQUEST_PROOF,
        method="POST",
        url="https://server.example.com/token",
        now=1562262616,
        policy=POLICY,
    )
    assert proof.jkt == RFC_JKT
    assert proof.jti == "-BwC3ESc6acc2lTc"
    assert proof.htu == "https://server.example.com/token"


def test_refresh_proof_verifies() -> None:
    proof = verify_proof(
        REFRESH_PROOF, method="POST", url="https://server.example.com/token", now=1562265296, policy=POLICY
    )
    assert proof.jkt == RFC_JKT
    assert proof.iat == 1562265296


def test_resource_proof_verifies_with_ath() -> None:
    proof = verify_proof(
        RESOURCE_PROOF,
        method="GET",
        url="https://resource.example.org/protectedresource?query=ignored",
        now=1562262618,
        policy=POLICY,
        access_token=RFC_ACCESS_TOKEN,
    )
    assert proof.jkt == RFC_JKT
    assert proof.claims["ath"] == RFC_ATH


def test_resource_proof_refused_for_another_token() -> None:
    with pytest.raises(InvalidDPoPProof, match="ath"):
        verify_proof(
            RESOURCE_PROOF,
            method="GET",
            url="https://resource.example.org/protectedresource",
            now=1562262618,
            policy=POLICY,
            access_token=RFC_ACCESS_TOKEN + "x",
        )


def test_rfc_proof_refused_without_frozen_clock() -> None:
    with pytest.raises(InvalidDPoPProof, match="iat"):
        verify_proof(
            TOKEN_REQUEST_PROOF,
            method="POST",
            url="https://server.example.com/token",
            now=1762262616,
            policy=POLICY,
        )


class _ExpiringReplayStore:
    """A replay store that forgets entries once their proof's window has ended (as the real ones do)."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self.now = 0

    def check_and_add(self, key: str, expires_at: int) -> bool:
        if self.entries.get(key, -1) >= self.now:
            return False
        self.entries[key] = expires_at
        return True


def test_rfc_token_and_refresh_proofs_share_a_jti_but_not_a_window() -> None:
    # RFC 9449 §4.1 and §5 reuse jti "-BwC3ESc6acc2lTc" 2680 s apart: a replay entry that lives
    # only for the proof's own window (iat + max age + skew) lets both through, and still
    # catches a replay of either within its window.
    store = _ExpiringReplayStore()
    for proof, iat in ((TOKEN_REQUEST_PROOF, 1562262616), (REFRESH_PROOF, 1562265296)):
        store.now = iat
        verified = verify_proof(
            proof,
            method="POST",
            url="https://server.example.com/token",
            now=iat,
            policy=POLICY,
            replay_store=store,
        )
        assert verified.expires_at == iat + POLICY.max_age + POLICY.clock_skew
        with pytest.raises(ReplayedProof):
            verify_proof(
                proof,
                method="POST",
                url="https://server.example.com/token",
                now=iat + 1,
                policy=POLICY,
                replay_store=store,
            )
