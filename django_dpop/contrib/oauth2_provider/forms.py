"""The consent form: DOT's, plus the id of the authorization request kept on the server."""

from __future__ import annotations

from django import forms

from .compat import AllowForm


class DPoPAllowForm(AllowForm):
    """DOT's ``AllowForm`` plus a hidden ``dpop_request``: the id of the stored request.

    The request's parameters, ``dpop_jkt`` (RFC 9449 §10) among them, stay in the session
    (:mod:`.consent`); DOT's own hidden fields are only compared with them, never trusted.
    """

    dpop_request = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput())
