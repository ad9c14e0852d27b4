"""The interactive API page at ``/docs``: Swagger UI served from the files of the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads OpenAPI 3.1), never
from a CDN. Without the package the page says how to install it."""

from __future__ import annotations

import os
from functools import lru_cache

__all__ = ["asset", "page"]

_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript",
           "favicon-32x32.png": "image/png"}


def _folder() -> str | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    path = getattr(swagger_ui_bundle, "swagger_ui_path", None)
    return path if path and os.path.isdir(path) else None


@lru_cache(maxsize=8)
def asset(name: str) -> tuple[bytes, str] | None:
    """``(bytes, media type)`` of one whitelisted Swagger UI file, or None."""
    folder = _folder()
    if folder is None or name not in _ASSETS:
        return None
    with open(os.path.join(folder, name), "rb") as f:
        return f.read(), _ASSETS[name]


def page() -> str:
    if _folder() is None:
        return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>API</title></head><body>"
                "<h1>API</h1><p>The interactive page needs Swagger UI: "
                "<code>pip install swagger-ui-bundle-v2</code> (in the <code>service</code> extra). "
                "The description itself is at <a href=/openapi.json>/openapi.json</a>.</p></body></html>")
    return """<!doctype html><html lang=en><head><meta charset=utf-8><title>sysprims shortener API</title>
<link rel=stylesheet href=/docs/assets/swagger-ui.css><link rel=icon href=/docs/assets/favicon-32x32.png></head>
<body><div id=swagger-ui></div><script src=/docs/assets/swagger-ui-bundle.js></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
</body></html>"""
