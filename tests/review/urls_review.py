"""A DRF view with HasDPoPScope and no required scope, session authentication listed second."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.contrib.rest_framework.permissions import HasDPoPScope


class NoScopeView(APIView):
    authentication_classes = [DPoPAuthentication, SessionAuthentication]
    permission_classes = [HasDPoPScope]
    required_scopes: list[str] = []

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [path("no-scope/", NoScopeView.as_view())]
