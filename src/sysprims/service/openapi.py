"""The OpenAPI 3.1 description of the shortener service (served at ``/openapi.json``).

:func:`openapi_spec` builds ``paths`` from the app's routes: every route and method
gets the operation described here, and a route without one is an error when the app
is built, so the document cannot fall behind the routes."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .settings import ServiceSettings

__all__ = ["openapi_spec"]


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        out["headers"] = headers
    return out


def openapi_spec(settings: ServiceSettings, routes: Any = None) -> dict[str, Any]:
    """The document; with ``routes`` (Starlette routes) its paths are exactly theirs."""
    spec = _document(settings)
    if routes is None:
        return spec
    ops = spec["paths"]
    paths: dict[str, Any] = {}
    for route in routes:
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
            op = ops.get(route.path, {}).get(method.lower())
            if op is None:
                raise ValueError(f"route {method} {route.path} has no OpenAPI operation in service/openapi.py")
            paths.setdefault(route.path, {})[method.lower()] = op
    spec["paths"] = paths
    return spec


def _document(settings: ServiceSettings) -> dict[str, Any]:
    rl_headers = {
        "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
        "RateLimit": {"$ref": "#/components/headers/RateLimit"},
        "RateLimit-Limit": {"$ref": "#/components/headers/RateLimit-Limit"},
        "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimit-Remaining"},
        "RateLimit-Reset": {"$ref": "#/components/headers/RateLimit-Reset"},
    }
    limited = {**rl_headers, "Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    code_param = {"name": "code", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
    k_param = {"name": "k", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}}
    api_key = {"name": "X-API-Key", "in": "header", "required": False, "schema": {"type": "string"},
               "description": "identifies the client for rate limiting (when the service has API keys)"}
    common_errors = {"400": _error("invalid request"), "401": _error("unknown API key"),
                     "429": _error("rate limited", limited), "503": _error("a store is unavailable")}
    html = {"200": {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}
    link_ok = {"description": "the link", "headers": rl_headers, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}}
    link_list = {"type": "object", "required": ["k", "links"],
                 "properties": {"k": {"type": "integer"},
                                "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sysprims URL shortener",
            "version": __version__,
            "description": (
                "Short links over an embedded SQLite file or a shared Redis. Creation is rate limited per "
                "client (token bucket) and idempotent with an Idempotency-Key header; redirects count every "
                "click exactly (store) and approximately for trending (Count-Min top-K)."
            ),
        },
        "paths": {
            "/api/links": {
                "post": {
                    "operationId": "createLink",
                    "summary": "Create a short link",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                         "description": "same key and body: the first response again; same key, other body: 422; "
                                        "first request still running: 409"},
                        api_key,
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/LinkRequest"}}}},
                    "responses": {
                        "201": {"description": "created (or replayed: header Idempotent-Replayed: true)",
                                "headers": {**rl_headers, "Location": {"schema": {"type": "string"}}},
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}},
                        "409": _error("alias taken, or a request with this Idempotency-Key is in flight"),
                        "413": _error("body too large"),
                        "415": _error("body is not JSON"),
                        "422": _error("Idempotency-Key reused with a different body"),
                        **common_errors,
                    },
                },
                "get": {
                    "operationId": "listLinks", "summary": "The links, newest first, a page at a time",
                    "parameters": [
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "next_cursor of the previous page"},
                        api_key],
                    "responses": {"200": {"description": "a page of links", "headers": rl_headers, "content": {
                        "application/json": {"schema": {"type": "object", "required": ["links", "next_cursor"],
                                                        "properties": {
                                                            "links": {"type": "array", "items": {
                                                                "$ref": "#/components/schemas/Link"}},
                                                            "next_cursor": {"type": ["string", "null"]}}}}}},
                                  **common_errors},
                },
            },
            "/api/links/{code}": {
                "get": {
                    "operationId": "getLink", "summary": "A link and its exact click count",
                    "parameters": [code_param, api_key],
                    "responses": {"200": link_ok, "404": _error("unknown or expired code"), **common_errors},
                },
                "patch": {
                    "operationId": "updateLink", "summary": "Change a link's target or TTL, or disable it",
                    "parameters": [code_param, api_key],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
                            "url": {"type": "string", "maxLength": settings.max_url_length},
                            "disabled": {"type": "boolean"},
                            "ttl_seconds": {"type": ["number", "null"], "exclusiveMinimum": 0,
                                            "maximum": settings.max_ttl_seconds}}}}}},
                    "responses": {"200": link_ok, "404": _error("unknown or expired code"),
                                  "409": _error("the code was taken meanwhile"), **common_errors},
                },
                "delete": {
                    "operationId": "deleteLink", "summary": "Delete a link",
                    "parameters": [code_param, api_key],
                    "responses": {"204": {"description": "deleted", "headers": rl_headers},
                                  "404": _error("unknown code"), **common_errors},
                },
            },
            "/api/links/{code}/clicks": {
                "get": {
                    "operationId": "linkClicks", "summary": "Clicks per minute (last hour) and per hour (last 48 h)",
                    "parameters": [code_param, api_key],
                    "responses": {"200": {"description": "oldest first, the current minute and hour last",
                                          "headers": rl_headers, "content": {"application/json": {"schema": {
                                              "type": "object", "properties": {
                                                  "code": {"type": "string"},
                                                  "per_minute": {"type": "array", "items": {"type": "integer"}},
                                                  "per_hour": {"type": "array", "items": {"type": "integer"}}}}}}},
                                  "404": _error("unknown code"), **common_errors},
                }
            },
            "/": {"get": {"operationId": "home", "summary": "HTML: create form and list of links", "responses": html}},
            "/ui/links": {"post": {
                "operationId": "createFromForm", "summary": "HTML form post; 303 back to the list",
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"url": {"type": "string"}, "alias": {"type": "string"},
                                                     "ttl_seconds": {"type": "string"}}}}}},
                "responses": {"303": {"description": "to the list (created=<code> or error=<message>)"},
                              "429": _error("rate limited", limited)}}},
            "/links/{code}": {"get": {"operationId": "linkPage", "summary": "HTML: a link and its click charts",
                                      "parameters": [code_param],
                                      "responses": {**html, "404": _error("unknown or expired code")}}},
            "/docs": {"get": {"operationId": "apiPage", "summary": "HTML: this API, interactive (Swagger UI)",
                              "responses": html}},
            "/docs/assets/{name}": {"get": {
                "operationId": "apiPageAsset", "summary": "Swagger UI files (from the swagger-ui-bundle-v2 package)",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "a file"}, "404": _error("not one of the files")}}},
            "/api/top": {
                "get": {
                    "operationId": "topLinks", "summary": "The k most clicked live links (exact counts)",
                    "parameters": [k_param, api_key],
                    "responses": {"200": {"description": "most clicked first", "headers": rl_headers,
                                          "content": {"application/json": {"schema": link_list}}},
                                  **common_errors},
                }
            },
            "/api/trending": {
                "get": {
                    "operationId": "trendingLinks",
                    "summary": "Codes clicked most on this instance recently (Count-Min estimates)",
                    "parameters": [k_param, api_key],
                    "responses": {"200": {"description": "estimates never below the true counts",
                                          "headers": rl_headers, "content": {"application/json": {"schema": {
                                              "type": "object", "properties": {
                                                  "k": {"type": "integer"}, "window_seconds": {"type": "number"},
                                                  "links": {"type": "array", "items": {
                                                      "type": "object", "properties": {
                                                          "code": {"type": "string"},
                                                          "estimated_clicks": {"type": "integer"}}}}}}}}},
                                  **common_errors},
                }
            },
            "/api/stats": {
                "get": {"operationId": "stats", "summary": "This instance's configuration and counters",
                        "responses": {"200": {"description": "stats", "content": {"application/json": {
                            "schema": {"type": "object"}}}}, **common_errors}}
            },
            "/healthz": {"get": {"operationId": "health", "summary": "Liveness",
                                 "responses": {"200": {"description": "ok"}}}},
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This description",
                                      "responses": {"200": {"description": "OpenAPI 3.1 JSON"}}}},
            "/{code}": {
                "get": {
                    "operationId": "redirect", "summary": "Redirect to the long URL and count the click",
                    "parameters": [code_param],
                    "responses": {
                        str(settings.redirect_status): {"description": "redirect",
                                                        "headers": {"Location": {"schema": {"type": "string"}}}},
                        "404": _error("unknown or expired code"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "LinkRequest": {
                    "type": "object", "required": ["url"], "additionalProperties": False,
                    "properties": {
                        "url": {"type": "string", "maxLength": settings.max_url_length,
                                "description": "absolute http(s) URL with a host, no whitespace or control characters"},
                        "alias": {"type": "string", "pattern": "^[A-Za-z0-9_-]{3,64}$",
                                  "description": "custom code; reserved words (api, admin, ...) are refused"},
                        "ttl_seconds": {"type": "number", "exclusiveMinimum": 0,
                                        "maximum": settings.max_ttl_seconds},
                    },
                },
                "Link": {
                    "type": "object",
                    "required": ["code", "url", "short_url", "created_at", "expires_at", "clicks", "strategy"],
                    "properties": {
                        "code": {"type": "string"}, "url": {"type": "string"}, "short_url": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "expires_at": {"type": ["string", "null"], "format": "date-time"},
                        "clicks": {"type": "integer", "minimum": 0},
                        "strategy": {"type": "string"},
                        "disabled": {"type": "boolean"},
                    },
                },
                "Problem": {
                    "type": "object", "required": ["type", "title", "status", "detail"],
                    "description": "RFC 9457 problem details; code is a stable machine-readable name",
                    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                   "status": {"type": "integer"}, "detail": {"type": "string"},
                                   "code": {"type": "string"}},
                },
            },
            "headers": {
                "RateLimit-Policy": {"schema": {"type": "string"}, "description":
                                     'draft-ietf-httpapi-ratelimit-headers: "api";q=<burst>;w=<seconds to refill>'},
                "RateLimit": {"schema": {"type": "string"}, "description":
                              'draft-ietf-httpapi-ratelimit-headers: "api";r=<requests left>;t=<seconds to reset>'},
                "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "bucket capacity"},
                "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "requests left now"},
                "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "seconds until the bucket is full"},
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait (429 only)"},
            },
        },
    }
