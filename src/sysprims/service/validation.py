"""Request validation for the service: every refusal is an :class:`ApiError`
(HTTP status, a stable machine-readable ``code`` and a clear message)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidParameterError
from ..shortener import validate_url

__all__ = ["ApiError", "LinkRequest", "parse_link_request", "check_host", "check_link_url", "host_of",
           "problem_response", "CODE_RE"]

# what a short code or alias can look like (anything else is a 404 without a store lookup)
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELDS = ("url", "alias", "ttl_seconds")
# first path segments of the service's own pages: an alias equal to one would be shadowed
RESERVED = frozenset({"api", "ui", "links", "docs", "healthz", "favicon"})
# a Host header: reg-name / IPv4 / [IPv6] and an optional port (RFC 9110 7.2, RFC 3986 3.2.2)
_HOST_RE = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


_TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           410: "Gone", 413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class ApiError(Exception):
    """An HTTP error answered as RFC 9457 problem details: ``{"type", "title", "status",
    "detail", "code"}`` (``code``: our stable machine-readable name)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"type": "about:blank", "title": _TITLES.get(self.status, "Error"), "status": self.status,
                "detail": self.message, "code": self.code}


def problem_response(response_cls: Any, err: ApiError) -> Any:
    """``err`` as an ``application/problem+json`` response of ``response_cls`` (Starlette's)."""
    body = json.dumps(err.body(), ensure_ascii=True, separators=(",", ":")).encode()
    return response_cls(body, status_code=err.status, headers=err.headers, media_type="application/problem+json")


@dataclass(frozen=True)
class LinkRequest:
    url: str
    alias: str | None
    ttl_seconds: float | None

    def canonical(self) -> dict[str, Any]:
        """The request as plain data: the idempotency fingerprint."""
        return {"url": self.url, "alias": self.alias, "ttl_seconds": self.ttl_seconds}


def parse_link_request(body: bytes, *, max_url_length: int, max_ttl_seconds: float,
                       self_hosts: Collection[str] = ()) -> LinkRequest:
    """Parse and check a ``POST /api/links`` body; :class:`ApiError` (400) on any problem.

    The URL must pass :func:`check_link_url` (``self_hosts``: the names this service
    answers to, lower case: a link to one of them would redirect to itself)."""
    if not body:
        raise ApiError(400, "invalid_body", 'the request body must be a JSON object like {"url": "https://..."}')
    try:
        data = json.loads(body)
    except RecursionError:
        raise ApiError(400, "invalid_json", "the request body nests JSON arrays or objects too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}"[:300]) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", f"the request body must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s) {unknown}; the fields are url, alias, ttl_seconds")
    if "url" not in data:
        raise ApiError(400, "invalid_url", "the field url is required")
    url = check_link_url(data["url"], max_url_length, self_hosts)
    alias = data.get("alias")
    if isinstance(alias, str) and alias.lower() in RESERVED:
        raise ApiError(400, "invalid_alias", f"the alias {alias!r} is reserved (a page of this service)")
    if alias is not None and (not isinstance(alias, str) or CODE_RE.fullmatch(alias) is None):
        raise ApiError(
            400, "invalid_alias",
            f"alias must be a string of 1 to 64 characters A-Z a-z 0-9 _ -, got {alias!r}"[:300],
        )
    ttl = data.get("ttl_seconds")
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or (isinstance(ttl, float) and not math.isfinite(ttl)):
            raise ApiError(400, "invalid_ttl", f"ttl_seconds must be a number of seconds, got {_short(ttl)}")
        if not 0 < ttl <= max_ttl_seconds:  # int/float comparison is exact: no overflow for huge ints
            raise ApiError(400, "invalid_ttl", f"ttl_seconds must be in (0, {max_ttl_seconds:g}], got {_short(ttl)}")
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)  # 10 and 10.0 are one request (one idempotency fingerprint)
    return LinkRequest(url, alias, ttl)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _refuse(message: str) -> ApiError:
    return ApiError(400, "invalid_url", message)


def host_of(url: str) -> str | None:
    """The host of an http(s) URL in lower case without a trailing dot (None if absent)."""
    host = urlsplit(url).hostname
    return host.rstrip(".").lower() if host else None


def check_link_url(url: Any, max_length: int, self_hosts: Collection[str] = ()) -> str:
    """``url`` if a short link may point at it, else :class:`ApiError` 400.

    On top of :func:`sysprims.shortener.validate_url` (absolute http(s), a host, no
    ASCII controls or spaces), refused are:

    * lone surrogates and every Unicode separator, control, format (zero-width,
      BOM, direction marks, embeddings, overrides, isolates), private-use or
      unassigned character: invisible in a browser bar, they make a link look like
      another (letters of any script are fine);
    * a backslash: browsers read it as ``/`` in http(s) URLs while ``urlsplit`` does
      not, so ``https://good.com\\@evil.com/`` would be checked as one host and
      opened at another;
    * userinfo (``https://good.com@evil.com/``): a phishing device, deprecated by
      RFC 9110 4.2.4 for http(s);
    * a port that is not a number in 0..65535;
    * a host among ``self_hosts`` (this service: the redirect would loop).
    """
    try:
        validate_url(url, max_length)
    except InvalidParameterError as exc:
        raise _refuse(str(exc)) from None
    if not url.isascii():
        for pos, ch in enumerate(url):
            if ord(ch) > 127 and unicodedata.category(ch)[0] in "ZC":
                name = unicodedata.name(ch, unicodedata.category(ch))
                raise _refuse(f"url must not contain invisible or layout characters, got U+{ord(ch):04X} ({name}) "
                              f"at position {pos}")
    if "\\" in url:
        raise _refuse(f"url must not contain a backslash (position {url.index(chr(92))}); write / or %5C")
    authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        raise _refuse("url must not carry userinfo (user@ or user:password@ before the host)")
    try:
        urlsplit(url).port  # noqa: B018 - reading it validates the port
    except ValueError:
        raise _refuse(f"url has an invalid port: {authority[:80]!r}") from None
    host = host_of(url)
    if not host:
        raise _refuse(f"url must name a host, got {url[:40]!r}")
    if host in self_hosts:
        raise ApiError(400, "self_link", f"url must not point at this service ({host}): the link would redirect to itself")
    return url


def check_host(header: str | None, allowed: Collection[str] | None) -> str:
    """The request's ``Host`` header if it may appear in ``short_url``, else 400.

    It must be a syntactically valid host[:port]; with ``allowed`` (lower-case host
    names, ports ignored) it must also be one of them."""
    if not header or _HOST_RE.fullmatch(header) is None:
        raise ApiError(400, "invalid_host", f"the Host header is not a valid host[:port]: {(header or '')[:80]!r}")
    if allowed is not None:
        name = header.rsplit(":", 1)[0] if not header.endswith("]") else header
        if name.rstrip(".").lower() not in allowed:
            raise ApiError(400, "invalid_host", f"the Host header {header[:80]!r} is not one this service answers to")
    return header
