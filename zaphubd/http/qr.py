"""Render a QR code text in the formats of `GET /sessions/:id/qr`."""

from __future__ import annotations

import base64
import io
from typing import Literal

import segno

QrFormat = Literal["base64", "data_url", "raw", "svg", "png", "terminal"]
FORMATS: tuple[QrFormat, ...] = ("base64", "data_url", "raw", "svg", "png", "terminal")
_SCALE = 8  # pixels per module: comfortable to scan from a screen


def png_bytes(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="l").save(out, kind="png", scale=_SCALE, border=4)
    return out.getvalue()


def svg_text(text: str) -> str:
    out = io.BytesIO()
    segno.make(text, error="l").save(out, kind="svg", scale=_SCALE, border=4, xmldecl=False)
    return out.getvalue().decode()


def terminal_text(text: str) -> str:
    """Unicode half blocks, two rows per line: shows in any UTF-8 terminal, no colours."""
    matrix = segno.make(text, error="l").matrix
    border = 2
    width = len(matrix[0]) + 2 * border
    blank = [0] * width
    rows = [blank] * border + [[0] * border + list(r) + [0] * border for r in matrix]
    rows += [blank] * (border + (len(rows) + border) % 2)
    chars = {(0, 0): "\u2588", (1, 0): "\u2584", (0, 1): "\u2580", (1, 1): " "}
    lines = [
        "".join(chars[(top, bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(rows[::2], rows[1::2], strict=True)
    ]
    return "\n".join(lines) + "\n"


def render(text: str, fmt: QrFormat) -> str | bytes:
    """The QR in `fmt`: str for the JSON formats, bytes for `png`."""
    if fmt == "raw":
        return text
    if fmt == "svg":
        return svg_text(text)
    if fmt == "terminal":
        return terminal_text(text)
    png = png_bytes(text)
    if fmt == "png":
        return png
    encoded = base64.b64encode(png).decode()
    return f"data:image/png;base64,{encoded}" if fmt == "data_url" else encoded
