"""oauthlib errors for the DPoP refusals decided inside DOT's validator (RFC 9449 §5, §10).

Raised from validator hooks, they travel through oauthlib's grant handlers (or DOT's
``except OAuth2Error`` around ``save_bearer_token``) and reach the client as a 400 JSON body
with ``Cache-Control: no-store``, like every other token endpoint error.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 §5 ``invalid_dpop_proof``; also used when a proof is required but absent.

    A missing proof is reported as ``invalid_dpop_proof`` rather than ``invalid_request`` so that
    a client configured for Bearer gets an error naming DPoP (as Okta does).
    """

    error = "invalid_dpop_proof"
    status_code = 400


class DPoPKeyMismatchError(InvalidGrantError):
    """RFC 9449 §5 / §10: the proof key is not the key the refresh token or code is bound to.

    ``invalid_grant``: the grant itself is not usable by this key (node-oidc-provider does the
    same); the proof is valid, so ``invalid_dpop_proof`` would mislead.
    """

    description = "The DPoP proof key does not match the key the grant is bound to."


PROOF_REQUIRED = "A DPoP proof is required: the %s is bound to a DPoP key."
