"""DPoP for Django REST Framework."""
