"""The consent form carrying ``dpop_jkt`` (RFC 9449 §10) from the authorization GET to its POST."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from .compat import AllowForm
from .validators import JKT_PATTERN


class DPoPAllowForm(AllowForm):
    """DOT's ``AllowForm`` plus a hidden ``dpop_jkt`` (a JWK SHA-256 thumbprint)."""

    dpop_jkt = forms.CharField(
        required=False,
        widget=forms.HiddenInput(),
        validators=[RegexValidator(JKT_PATTERN, "dpop_jkt is not a JWK SHA-256 thumbprint.")],
    )
