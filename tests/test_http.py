"""The expected ``htu`` (RFC 9449 §4.3 check 9) behind proxies and under mount paths.

``DPOP_HTU_BASE_URL`` wins when set; otherwise Django's own view of the request, so forwarded
headers count only when Django was told to trust them.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path, re_path

from django_dpop.http import expected_htu, get_proof, pending_nonce, set_pending_nonce
from django_dpop.middleware import DPoPNonceMiddleware
from tests.contrib.rest_framework.test_authentication import MeView
from tests.factories import make_proof


urlpatterns = [
    path("api/me/", MeView.as_view()),
    # A catch-all, as an SPA fallback or a proxying view has: every path reaches a protected view.
    re_path(r"^catch-all/", MeView.as_view()),
    re_path(r"^.*$", MeView.as_view()),
]
PROXY_SSL = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


# -- expected_htu on its own ---------------------------------------------------------------------


def test_default_is_djangos_absolute_uri_without_query(rf):
    assert expected_htu(rf.get("/api/me/?page=2#frag")) == "http://testserver/api/me/"


def test_non_ascii_path_is_percent_encoded(rf):
    assert expected_htu(rf.get("/caf\u00e9/")) == "http://testserver/caf%C3%A9/"


def test_forwarded_proto_ignored_unless_trusted(rf, settings):
    request = rf.get("/api/me/", HTTP_HOST="api.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert expected_htu(request) == "http://api.example.com/api/me/"
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL
    request = rf.get("/api/me/", HTTP_HOST="api.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert expected_htu(request) == "https://api.example.com/api/me/"


def test_proxy_that_drops_the_host_header_leaks_the_internal_port(rf, settings):
    # Without a Host header Django falls back to SERVER_NAME:SERVER_PORT, and port 80 is not the
    # default for https: proxies must pass Host on (or pin DPOP_HTU_BASE_URL). Documented.
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL
    request = rf.get("/api/me/", HTTP_X_FORWARDED_PROTO="https")
    assert expected_htu(request) == "https://testserver:80/api/me/"


def test_forwarded_host_ignored_unless_trusted(rf, settings):
    request = rf.get("/api/me/", HTTP_X_FORWARDED_HOST="api.example.com")
    assert expected_htu(request) == "http://testserver/api/me/"
    settings.USE_X_FORWARDED_HOST = True
    request = rf.get("/api/me/", HTTP_X_FORWARDED_HOST="api.example.com")
    assert expected_htu(request) == "http://api.example.com/api/me/"


def test_rfc7239_forwarded_header_is_never_trusted(rf, settings):
    # Django has no setting for ``Forwarded``; neither has the htu, even with the X- ones trusted.
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL
    settings.USE_X_FORWARDED_HOST = True
    request = rf.get("/x", HTTP_FORWARDED="proto=https;host=api.example.com", HTTP_X_FORWARDED_PROTO="http")
    assert expected_htu(request) == "http://testserver/x"


def test_forwarded_proto_of_another_header_name_is_ignored(rf, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_SCHEME", "https")
    host = {"HTTP_HOST": "api.example.com"}
    assert expected_htu(rf.get("/x", HTTP_X_FORWARDED_PROTO="https", **host)) == "http://api.example.com/x"
    assert expected_htu(rf.get("/x", HTTP_X_SCHEME="https", **host)) == "https://api.example.com/x"


def test_forwarded_port_only_with_use_x_forwarded_port(rf, settings):
    assert expected_htu(rf.get("/x", HTTP_X_FORWARDED_PORT="8443")) == "http://testserver/x"
    settings.USE_X_FORWARDED_PORT = True
    assert expected_htu(rf.get("/x", HTTP_X_FORWARDED_PORT="8443")) == "http://testserver:8443/x"


def test_host_outside_allowed_hosts_is_refused(rf, settings):
    with pytest.raises(DisallowedHost):
        expected_htu(rf.get("/x", HTTP_HOST="evil.example.net"))
    settings.USE_X_FORWARDED_HOST = True
    with pytest.raises(DisallowedHost):
        expected_htu(rf.get("/x", HTTP_X_FORWARDED_HOST="evil.example.net"))


def test_script_name_mount_path(rf):
    request = rf.get("/api/me/", SCRIPT_NAME="/app")
    assert request.path == "/app/api/me/"
    assert expected_htu(request) == "http://testserver/app/api/me/"


def test_force_script_name(rf, settings):
    settings.FORCE_SCRIPT_NAME = "/prefix"
    assert expected_htu(rf.get("/api/me/")) == "http://testserver/prefix/api/me/"


def test_base_url_without_path_keeps_the_script_prefix(rf, settings):
    settings.DPOP_HTU_BASE_URL = "https://api.example.com/"
    request = rf.get("/api/me/?q", SCRIPT_NAME="/app", HTTP_X_FORWARDED_HOST="ignored.example")
    assert expected_htu(request) == "https://api.example.com/app/api/me/"


def test_base_url_with_path_replaces_the_script_prefix(rf, settings):
    # The public mount path is the base's; whatever prefix the proxy passed on is ignored.
    settings.DPOP_HTU_BASE_URL = "https://example.com/public"
    request = rf.get("/api/me/", SCRIPT_NAME="/internal")
    assert expected_htu(request) == "https://example.com/public/api/me/"
    assert expected_htu(rf.get("/caf\u00e9/")) == "https://example.com/public/caf%C3%A9/"


def wsgi_request(path_info: str, **environ: Any) -> Any:
    """A request as a WSGI server hands it over: PATH_INFO verbatim (RequestFactory would parse
    a leading ``//`` as a host)."""
    from django.core.handlers.wsgi import WSGIRequest

    return WSGIRequest(RequestFactory()._base_environ(PATH_INFO=path_info, REQUEST_METHOD="GET", **environ))


@pytest.mark.parametrize(
    "path_info",
    ["//evil.example/api/me/", "//evil.example:8443/x", "//user@evil.example/x", "///evil.example/x", "//"],
)
def test_a_path_that_looks_like_an_authority_stays_a_path(path_info):
    """RFC 3986 §4.2: ``//host`` is a network-path reference, but a request's path is a path:
    the expected htu stays on this server's origin, with the path as received."""
    assert expected_htu(wsgi_request(path_info)) == "http://testserver" + path_info


def test_a_double_slash_path_under_a_mount_path_and_a_trusted_proxy(settings):
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL
    request = wsgi_request(
        "//evil.example/x", SCRIPT_NAME="/app", HTTP_X_FORWARDED_HOST="api.example.com", **dict([PROXY_SSL])
    )
    assert expected_htu(request) == "https://api.example.com/app//evil.example/x"


def test_the_resource_metadata_and_par_use_the_same_uri(settings):
    from django_dpop.http import request_uri
    from django_dpop.views import ProtectedResourceMetadataView

    request = wsgi_request("//evil.example/.well-known/oauth-protected-resource")
    assert request_uri(request) == "http://testserver//evil.example/.well-known/oauth-protected-resource"
    # This server's resource at path //evil.example, never the resource http://evil.example.
    assert ProtectedResourceMetadataView().get_resource(request) == "http://testserver//evil.example"


def test_get_proof(rf):
    assert get_proof(rf.get("/")) is None
    assert get_proof(rf.get("/", HTTP_DPOP="a.b.c")) == "a.b.c"


# -- the nonce middleware ------------------------------------------------------------------------


def test_middleware_copies_a_parked_nonce(rf):
    request = rf.get("/")
    middleware = DPoPNonceMiddleware(lambda r: HttpResponse())
    assert "DPoP-Nonce" not in middleware(request)
    set_pending_nonce(request, "n-1")
    assert pending_nonce(request) == "n-1"
    assert middleware(request)["DPoP-Nonce"] == "n-1"


def test_middleware_keeps_a_nonce_the_view_set(rf):
    request = rf.get("/")
    set_pending_nonce(request, "parked")

    def view(request: Any) -> HttpResponse:
        response = HttpResponse()
        response["DPoP-Nonce"] = "from-view"
        return response

    assert DPoPNonceMiddleware(view)(request)["DPoP-Nonce"] == "from-view"


def test_middleware_async(rf):
    from asgiref.sync import async_to_sync

    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse()

    middleware = DPoPNonceMiddleware(get_response)
    request = rf.get("/")
    set_pending_nonce(request, "n-2")
    assert async_to_sync(middleware)(request)["DPoP-Nonce"] == "n-2"


# -- end to end through DRF ----------------------------------------------------------------------


@pytest.fixture
def bound(make_token: Any, key: Any) -> Any:
    return make_token(jkt=key.jkt)


def call(client: Any, token: Any, key: Any, htu: str, **extra: Any) -> Any:
    proof = make_proof(key, "GET", htu, access_token=token.token)
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"DPoP {token.token}", HTTP_DPOP=proof, **extra)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
class TestBehindProxies:
    def test_tls_terminating_proxy(self, client, bound, key, settings):
        settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL
        settings.USE_X_FORWARDED_HOST = True
        headers = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "api.example.com"}
        response = call(client, bound, key, "https://api.example.com/api/me/", **headers)
        assert response.status_code == 200, response.content

    def test_proxy_headers_without_the_settings_are_not_trusted(self, client, bound, key):
        headers = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "api.example.com"}
        response = call(client, bound, key, "https://api.example.com/api/me/", **headers)
        assert response.status_code == 401
        assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
        # What Django itself sees is what the proof must name.
        assert call(client, bound, key, "http://testserver/api/me/", **headers).status_code == 200

    def test_spoofed_host_is_a_400_before_any_check(self, client, bound, key):
        response = call(client, bound, key, "http://evil.example.net/api/me/", HTTP_HOST="evil.example.net")
        assert response.status_code == 400

    def test_pinned_base_url_ignores_the_request_host(self, client, bound, key, settings):
        settings.DPOP_HTU_BASE_URL = "https://api.example.com"
        assert call(client, bound, key, "https://api.example.com/api/me/").status_code == 200
        response = call(client, bound, key, "http://testserver/api/me/")
        assert response.status_code == 401

    def test_mount_path(self, client, bound, key):
        response = call(client, bound, key, "http://testserver/app/api/me/", SCRIPT_NAME="/app")
        assert response.status_code == 200, response.content
        assert call(client, bound, key, "http://testserver/api/me/", SCRIPT_NAME="/app").status_code == 401

    def test_force_script_name(self, client, bound, key, settings):
        settings.FORCE_SCRIPT_NAME = "/prefix"
        assert call(client, bound, key, "http://testserver/prefix/api/me/").status_code == 200

    @pytest.mark.parametrize("path_info", ["//evil.example/api/me/", "//evil.example/catch-all/x"])
    def test_a_proof_for_another_origin_is_refused_at_a_double_slash_path(
        self, client, bound, key, path_info
    ):
        """A proof captured at ``http://evil.example/...`` (another resource server the client
        talks to) replayed here at ``//evil.example/...``: refused, since it names another origin."""
        other_origin = "http://evil.example" + path_info.removeprefix("//evil.example")
        for htu, status in ((other_origin, 401), ("http://testserver" + path_info, 200)):
            proof = make_proof(key, "GET", htu, access_token=bound.token)
            response = client.generic(
                "GET", "/", PATH_INFO=path_info, HTTP_AUTHORIZATION=f"DPoP {bound.token}", HTTP_DPOP=proof
            )
            assert response.status_code == status, (htu, response.content)
            if status == 401:
                assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]

    def test_mount_path_under_pinned_public_path(self, client, bound, key, settings):
        settings.DPOP_HTU_BASE_URL = "https://example.com/api-gateway/"
        response = call(
            client, bound, key, "https://example.com/api-gateway/api/me/", SCRIPT_NAME="/internal"
        )
        assert response.status_code == 200, response.content
