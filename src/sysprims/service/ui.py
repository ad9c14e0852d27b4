"""The service's small HTML interface: a create form and the list of links at ``/``,
a page per link with its click charts (inline SVG) at ``/links/{code}``. Plain HTML
forms (no script, nothing fetched from elsewhere); every value is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["index_page", "link_page", "svg_bars"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
input[type=url]{width:28rem}.err{color:#a00}.muted{color:#777}svg{background:#fafafa;border:1px solid #eee}
"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def index_page(links: list[dict[str, Any]], next_cursor: str | None, error: str | None = None,
               created: dict[str, Any] | None = None) -> str:
    rows = "".join(
        f"<tr><td><a href='/links/{escape(x['code'])}' class=code>{escape(x['code'])}</a></td>"
        f"<td class=url>{escape(x['url'])}</td><td class=clicks data-code='{escape(x['code'])}'>{int(x['clicks'])}</td>"
        f"<td>{'disabled' if x.get('disabled') else ('expired' if x.get('expired') else 'live')}</td>"
        f"<td class=muted>{escape(x['created_at'] or '')}</td></tr>"
        for x in links)
    more = f"<p><a href='/?cursor={escape(next_cursor)}'>older links</a></p>" if next_cursor else ""
    note = f"<p class=err id=error>{escape(error)}</p>" if error else ""
    if created:
        note += (f"<p id=created>Created <a id=short-url href='{escape(created['short_url'])}'>"
                 f"{escape(created['short_url'])}</a></p>")
    body = f"""<h1>sysprims URL shortener</h1>
<form method=post action=/ui/links id=create>
<label>URL <input type=url name=url id=url required placeholder='https://example.com/'></label>
<label>alias <input name=alias id=alias pattern='[A-Za-z0-9_-]{{1,64}}' size=12></label>
<label>TTL (s) <input name=ttl_seconds id=ttl type=number min=1 size=8></label>
<button type=submit id=shorten>Shorten</button></form>{note}
<h2>Links</h2><table id=links><tr><th>code</th><th>target</th><th>clicks</th><th>state</th><th>created</th></tr>
{rows}</table>{more}
<p class=muted><a href=/docs>API</a> · <a href=/openapi.json>OpenAPI</a></p>"""
    return _page("sysprims URL shortener", body)


def svg_bars(values: list[int], width: int = 600, height: int = 120, label: str = "") -> str:
    """A bar chart of ``values`` as inline SVG (one bar per value, oldest left)."""
    n = max(1, len(values))
    top = max(values) if values and max(values) > 0 else 1
    w = width / n
    bars = "".join(
        f"<rect x='{i * w:.1f}' y='{height - v / top * (height - 14):.1f}' width='{max(w - 1, 1):.1f}' "
        f"height='{v / top * (height - 14):.1f}' fill='#4a7'><title>{v}</title></rect>"
        for i, v in enumerate(values))
    return (f"<svg role=img aria-label='{escape(label)}' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}'><text x=4 y=12 font-size=11>max {top}</text>{bars}</svg>")


def link_page(link: dict[str, Any], series: dict[str, Any]) -> str:
    code = escape(link["code"])
    body = f"""<p><a href=/>all links</a></p><h1>{code}</h1>
<p><a id=short-url href='{escape(link['short_url'])}'>{escape(link['short_url'])}</a> &rarr;
<span id=target>{escape(link['url'])}</span></p>
<p>clicks: <b id=clicks>{int(link['clicks'])}</b> · {'disabled' if link.get('disabled') else 'live'}
· created {escape(link['created_at'] or '')} · expires {escape(link['expires_at'] or 'never')}</p>
<h2>Clicks per minute (last hour)</h2>{svg_bars(series['per_minute'], label='clicks per minute')}
<h2>Clicks per hour (last two days)</h2>{svg_bars(series['per_hour'], label='clicks per hour')}"""
    return _page(f"link {link['code']}", body)
