"""The text of an uploaded CSV file in the encodings Chinese offices save it in."""

from __future__ import annotations

import codecs


def decode_text(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) of a text file: UTF-8 with or without a byte-order mark, UTF-16 with one, else
    GB18030 (which covers GBK, what Chinese Excel writes for "CSV"); None when none of them fits."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            return None
        return text, encoding
    return None
