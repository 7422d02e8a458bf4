"""The example project's browser single-page app (``/spa/``) and its public OAuth client ``spa``."""
