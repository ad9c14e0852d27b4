"""Request validation for the service: every refusal is an :class:`ApiError`
(HTTP status, a stable machine-readable ``code`` and a clear message)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterError
from ..shortener import validate_url

__all__ = ["ApiError", "LinkRequest", "parse_link_request", "CODE_RE"]

# what a short code or alias can look like (anything else is a 404 without a store lookup)
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELDS = ("url", "alias", "ttl_seconds")


class ApiError(Exception):
    """An HTTP error answered with ``{"error": {"status", "code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


@dataclass(frozen=True)
class LinkRequest:
    url: str
    alias: str | None
    ttl_seconds: float | None

    def canonical(self) -> dict[str, Any]:
        """The request as plain data: the idempotency fingerprint."""
        return {"url": self.url, "alias": self.alias, "ttl_seconds": self.ttl_seconds}


def parse_link_request(body: bytes, *, max_url_length: int, max_ttl_seconds: float) -> LinkRequest:
    """Parse and check a ``POST /api/links`` body; :class:`ApiError` (400) on any problem."""
    if not body:
        raise ApiError(400, "invalid_body", 'the request body must be a JSON object like {"url": "https://..."}')
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", f"the request body must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s) {unknown}; the fields are url, alias, ttl_seconds")
    if "url" not in data:
        raise ApiError(400, "invalid_url", "the field url is required")
    url = data["url"]
    try:
        validate_url(url, max_url_length)
    except InvalidParameterError as exc:
        raise ApiError(400, "invalid_url", str(exc)) from None
    alias = data.get("alias")
    if alias is not None and (not isinstance(alias, str) or CODE_RE.fullmatch(alias) is None):
        raise ApiError(
            400, "invalid_alias",
            f"alias must be a string of 1 to 64 characters A-Z a-z 0-9 _ -, got {alias!r}"[:300],
        )
    ttl = data.get("ttl_seconds")
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
            raise ApiError(400, "invalid_ttl", f"ttl_seconds must be a number of seconds, got {ttl!r}")
        if not 0 < ttl <= max_ttl_seconds:
            raise ApiError(400, "invalid_ttl", f"ttl_seconds must be in (0, {max_ttl_seconds:g}], got {ttl!r}")
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)  # 10 and 10.0 are one request (one idempotency fingerprint)
    return LinkRequest(url, alias, ttl)
