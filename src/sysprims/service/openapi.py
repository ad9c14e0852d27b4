"""The OpenAPI 3.1 description of the shortener service (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .settings import ServiceSettings

__all__ = ["openapi_spec"]


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        out["headers"] = headers
    return out


def openapi_spec(settings: ServiceSettings) -> dict[str, Any]:
    rl_headers = {
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
                }
            },
            "/api/links/{code}": {
                "get": {
                    "operationId": "getLink", "summary": "A link and its exact click count",
                    "parameters": [code_param, api_key],
                    "responses": {"200": {"description": "the link", "headers": rl_headers, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}},
                        "404": _error("unknown or expired code"), **common_errors},
                }
            },
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
                    },
                },
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["status", "code", "message"],
                                             "properties": {"status": {"type": "integer"},
                                                            "code": {"type": "string"},
                                                            "message": {"type": "string"}}}},
                },
            },
            "headers": {
                "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "bucket capacity"},
                "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "requests left now"},
                "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "seconds until the bucket is full"},
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait (429 only)"},
            },
        },
    }
