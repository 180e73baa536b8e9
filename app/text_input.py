"""Text the user hands a command (an argument, standard input, a file) checked at the door to be UTF-8.

Undecodable bytes would otherwise travel as surrogates into a provider and fail there, after a
fallback, with a message about encoding characters that says nothing about the input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO


class InputError(Exception):
    """A sentence for the user: which input cannot be used, and why."""


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{source} is not UTF-8 text: byte {err.start} (0x{data[err.start]:02x}) is not valid UTF-8."
            " Convert it first (e.g. iconv -f latin1 -t utf-8)."
        ) from None


def text_argument(value: str, name: str, stdin: BinaryIO | None = None) -> str:
    """The argument ``name`` as text; ``-`` reads standard input."""
    if value == "-":
        return decode_utf8((stdin or sys.stdin.buffer).read(), "The standard input")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # argv bytes that are not UTF-8 arrive as surrogate escapes; fsencode gives the bytes back.
        decode_utf8(os.fsencode(value), f"The {name} argument")
        raise InputError(f"The {name} argument is not UTF-8 text.") from None
    return value


def text_file(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"Cannot read {path}: {err.strerror}.") from None
    return decode_utf8(data, path)
