"""The playground's `#src=` links: the model's UTF-8 text, compressed with raw DEFLATE (RFC 1951,
no zlib or gzip header: what the browser's CompressionStream("deflate-raw") writes), in
unpadded base64url (RFC 4648 section 5). The page's app.js is the other implementation."""

from __future__ import annotations

import base64
import zlib

PREFIX = "#src="


class LinkError(ValueError):
    """Text that is not a playground link's payload."""


def encode(text: str) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(text.encode("utf-8")) + compressor.flush()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(payload: str) -> str:
    """The text of a payload (raises LinkError)."""
    payload = payload.strip()
    if payload.startswith(PREFIX) or "#" in payload:
        payload = payload.split(PREFIX, 1)[-1].split("&", 1)[0]
    try:
        data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        decompressor = zlib.decompressobj(-15)
        text = decompressor.decompress(data) + decompressor.flush()
        if not decompressor.eof:
            raise LinkError("the compressed data ends early")
        return text.decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError) as exc:
        raise LinkError(f"not a playground link: {exc}") from None


def link(text: str, base: str) -> str:
    """The address that opens the playground at `base` with `text` in its editor."""
    return base.split("#", 1)[0] + PREFIX + encode(text)
