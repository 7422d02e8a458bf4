"""OAuth 2.0 DPoP (RFC 9449) for Django."""

__version__ = "0.1.0"
