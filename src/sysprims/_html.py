"""Tiny HTML rendering for ``_repr_html_`` in Jupyter."""

from __future__ import annotations

from html import escape
from typing import Any


def html_table(title: str, rows: list[tuple[str, Any]]) -> str:
    """A two-column table: the structure's name, then (field, value) rows."""
    body = "".join(
        f"<tr><th style='text-align:left'>{escape(str(k))}</th><td style='text-align:left'>{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table><caption style='text-align:left'><b>{escape(title)}</b></caption>{body}</table>"
