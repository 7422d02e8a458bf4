"""DPoP for django-oauth-toolkit: an optional app (label ``django_dpop_oauth2``)."""
