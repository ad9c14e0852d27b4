"""Reading, listing, changing and deleting links (the service's ``/api/links`` routes
beyond creation). A change of target or TTL, and disabling, keep the code: the link
is replaced in the store under the same code (its clicks so far are kept in the
registry's ``offset``), and a disabled link is out of the store until enabled."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from ..shortener import LinkInfo
from .validation import CODE_RE, ApiError, check_link_url

__all__ = ["click_series", "delete_link", "describe", "list_links", "parse_patch", "patch_link"]

_PATCH_FIELDS = ("url", "disabled", "ttl_seconds")


def _not_found(code: str) -> ApiError:
    return ApiError(404, "not_found", f"no link with code {code!r}"[:200])


def _lookup(svc: Any, code: str) -> tuple[LinkInfo | None, dict[str, Any] | None]:
    if CODE_RE.fullmatch(code) is None:
        return None, None
    return svc.store.info(code, svc.shortener._now_ms()), svc.registry.meta(code)


def _info_of(meta: dict[str, Any], code: str) -> LinkInfo:
    return LinkInfo(code, meta["url"], meta["strategy"], meta["created_ms"], meta["expires_ms"], 0)


def describe(svc: Any, code: str, base_url: str) -> dict[str, Any]:
    info, meta = _lookup(svc, code)
    if info is None:
        if meta is None or not meta["disabled"]:
            raise ApiError(404, "not_found", f"no live link with code {code!r}"[:200])
        info = _info_of(meta, code)
    return svc.link_body(info, base_url, meta)


def list_links(svc: Any, limit: int, cursor: str | None, base_url: str) -> dict[str, Any]:
    """Newest first; ``next_cursor`` continues after the last one (None at the end)."""
    before = None
    if cursor:
        try:
            ms, code = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
            before = (int(ms), str(code))
        except (ValueError, TypeError, UnicodeError):
            raise ApiError(400, "invalid_cursor", "cursor must be a next_cursor value of this API") from None
    out = []
    keys = svc.registry.page(limit + 1, before)
    for _, code in keys[:limit]:
        try:
            out.append(describe(svc, code, base_url))
        except ApiError:  # expired: still listed, as expired
            meta = svc.registry.meta(code)
            if meta is not None:
                out.append({**svc.link_body(_info_of(meta, code), base_url, meta), "expired": True})
    nxt = None
    if len(keys) > limit:
        ms, code = keys[limit - 1]
        nxt = base64.urlsafe_b64encode(json.dumps([ms, code]).encode()).decode().rstrip("=")
    return {"links": out, "next_cursor": nxt}


def delete_link(svc: Any, code: str) -> None:
    info, meta = _lookup(svc, code)
    if info is None and meta is None:
        raise _not_found(code)
    svc.store.delete(code)
    svc.registry.removed(code)


def parse_patch(body: bytes, max_url_length: int, max_ttl_seconds: float, self_hosts: Any) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except RecursionError:
        raise ApiError(400, "invalid_json", "the request body nests JSON arrays or objects too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}"[:300]) from None
    if not isinstance(data, dict) or not data:
        raise ApiError(400, "invalid_body", 'the body must be a JSON object with url, disabled and/or ttl_seconds')
    unknown = sorted(set(data) - set(_PATCH_FIELDS))
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s) {unknown}; the fields are url, disabled, ttl_seconds")
    out: dict[str, Any] = {}
    if "url" in data:
        out["url"] = check_link_url(data["url"], max_url_length, self_hosts)
    if "disabled" in data:
        if not isinstance(data["disabled"], bool):
            raise ApiError(400, "invalid_disabled", f"disabled must be true or false, got {data['disabled']!r}"[:200])
        out["disabled"] = data["disabled"]
    if "ttl_seconds" in data:
        ttl = data["ttl_seconds"]
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))
                                or (isinstance(ttl, float) and not math.isfinite(ttl)) or not 0 < ttl <= max_ttl_seconds):
            raise ApiError(400, "invalid_ttl", f"ttl_seconds must be null or in (0, {max_ttl_seconds:g}]")
        out["ttl_seconds"] = ttl
    return out


def patch_link(svc: Any, code: str, changes: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Apply ``changes`` (url, disabled, ttl_seconds: None = never expires)."""
    info, meta = _lookup(svc, code)
    if meta is None:
        if info is None:
            raise _not_found(code)
        svc.registry.added(code, info.url, info.strategy, info.created_ms, info.expires_ms)  # made elsewhere
        meta = svc.registry.meta(code)
    if info is None and not meta["disabled"]:
        raise ApiError(404, "not_found", f"the link {code!r} has expired"[:200])
    now = svc.shortener._now_ms()
    url = changes.get("url", meta["url"])
    expires = meta["expires_ms"]
    if "ttl_seconds" in changes:
        ttl = changes["ttl_seconds"]
        expires = None if ttl is None else now + int(ttl * 1000)
    disabled = bool(changes.get("disabled", meta["disabled"]))
    offset = meta["offset"] + (info.clicks if info is not None else 0)
    if info is not None:
        svc.store.delete(code)
    if not disabled and not svc.store.create(code, url, meta["strategy"], meta["created_ms"], expires, now):
        raise ApiError(409, "alias_taken", f"the code {code!r} was taken meanwhile")
    meta = svc.registry.update(code, url=url, expires_ms=expires, disabled=int(disabled), offset=offset)
    return svc.link_body(_info_of(meta, code), base_url, meta)


def click_series(svc: Any, code: str) -> dict[str, Any]:
    info, meta = _lookup(svc, code)
    if info is None and meta is None:
        raise _not_found(code)
    return {"code": code, **svc.registry.series(code, svc.clock.time())}
