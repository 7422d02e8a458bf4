"""The views the adversarial suite attacks: a DRF view, a plain Django view, DOT's token endpoint."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from django_dpop.contrib.rest_framework import DPoPAuthentication
from django_dpop.decorators import dpop_required
from tests.urls import urlpatterns as base_urlpatterns


class DRFResource(APIView):
    authentication_classes = [DPoPAuthentication]
    permission_classes: list[type] = []

    def get(self, request):  # type: ignore[no-untyped-def]
        if request.auth is None:
            self.permission_denied(request)
        return Response({"scope": request.auth.scope})

    post = get


@dpop_required
def plain_resource(request):  # type: ignore[no-untyped-def]
    return JsonResponse({"scope": request.auth.scope})


urlpatterns = [
    path("api/drf/", DRFResource.as_view()),
    path("api/plain/", plain_resource),
    *base_urlpatterns,
]
