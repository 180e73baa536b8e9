"""Fill-in-the-middle: which models have FIM tokens, and the prompts built from them.

Three ways a backend learns it, each the most reliable it has:
- embedded: the GGUF's vocabulary holds FIM tokens (the texts llama.cpp's llama-vocab.cpp looks for), and
  at generation llama.cpp's own token ids are used (``llama_vocab_fim_pre/suf/mid``);
- Ollama: /api/show ``capabilities`` contains "insert" (the model's template uses ``.Suffix``);
- OpenAI-compatible servers (LM Studio, llama.cpp's servers, vLLM) cannot tell: the model's family name is
  the only clue, and the family's template is sent as a raw prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import gguf
from .types import Infill

#: FIM token texts as llama.cpp recognises them in a vocabulary: (prefix, suffix, middle) per family.
VOCAB_TRIPLES = (
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),  # Qwen2.5-Coder, CodeGemma
    ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),  # StarCoder, SantaCoder
    ("<fim-prefix>", "<fim-suffix>", "<fim-middle>"),  # OpenCoder
    ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),  # DeepSeek-Coder
    ("<PRE>", "<SUF>", "<MID>"),  # CodeLlama
    ("▁<PRE>", "▁<SUF>", "▁<MID>"),  # CodeLlama (SentencePiece spelling)
    ("<|code_prefix|>", "<|code_suffix|>", "<|code_middle|>"),  # GLM-4
)
_VOCAB_TEXTS = frozenset(t for triple in VOCAB_TRIPLES for t in triple)
#: GGUF keys that name FIM token ids outright (newer conversions write them).
FIM_ID_KEYS = ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id")


def gguf_has_fim(path: str | Path, meta: dict[str, object]) -> bool:
    """True when the GGUF names FIM token ids or its vocabulary holds a whole FIM triple."""
    if any(key in meta for key in FIM_ID_KEYS):
        return True
    found = gguf.vocabulary_has(path, _VOCAB_TEXTS)
    return any(set(triple) <= found for triple in VOCAB_TRIPLES)


def fim_prompt_tokens(
    prefix: Sequence[int],
    suffix: Sequence[int],
    ids: tuple[int, int, int],
    *,
    bos: int | None = None,
    spm: bool = False,
) -> list[int]:
    """The token sequence a FIM-trained model expects: [BOS] PRE prefix SUF suffix MID (PSM order), or
    [BOS] SUF suffix PRE prefix MID for models trained suffix-first (``spm``). ``ids``: the
    (prefix, suffix, middle) token ids, all >= 0."""
    pre, suf, mid = ids
    head = [bos] if bos is not None and bos >= 0 else []
    if spm:
        return [*head, suf, *suffix, pre, *prefix, mid]
    return [*head, pre, *prefix, suf, *suffix, mid]


@dataclass(frozen=True)
class Template:
    """A family's FIM prompt as text, for servers that take a raw prompt (special tokens parsed)."""

    family: str
    #: Substrings of a model name that mean this family.
    names: tuple[str, ...]
    prefix: str
    suffix: str
    middle: str
    #: Suffix first (Codestral's [SUFFIX]...[PREFIX]...).
    spm: bool = False
    #: Texts that end the middle when the server does not stop on the family's end-of-generation tokens.
    stops: tuple[str, ...] = ()

    def render(self, infill: Infill) -> str:
        if self.spm:
            return f"{self.suffix}{infill.suffix}{self.prefix}{infill.prompt}{self.middle}"
        return f"{self.prefix}{infill.prompt}{self.suffix}{infill.suffix}{self.middle}"


#: Checked in order: the more specific names first. The same templates editors' FIM clients use.
TEMPLATES = (
    Template(
        "qwen-coder",
        ("qwen2.5-coder", "qwen2-coder", "qwen3-coder", "codeqwen", "codegemma"),
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        stops=(
            "<|endoftext|>",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<|fim_pad|>",
            "<|file_sep|>",
            "<|repo_name|>",
            "<|im_start|>",
            "<|im_end|>",
        ),
    ),
    Template(
        "deepseek-coder",
        ("deepseek-coder",),
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
        stops=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<|EOT|>", "<｜end▁of▁sentence｜>"),
    ),
    Template(
        "starcoder",
        ("starcoder", "santacoder", "stable-code", "stablecode"),
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        stops=("<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>"),
    ),
    Template(
        "codellama",
        ("codellama", "code-llama"),
        "<PRE> ",
        " <SUF>",
        " <MID>",
        stops=("<EOT>", "<PRE>", "<SUF>", "<MID>"),
    ),
    Template(
        "codestral", ("codestral",), "[PREFIX]", "[SUFFIX]", "", spm=True, stops=("[PREFIX]", "[SUFFIX]")
    ),
)


def template_for(name: str) -> Template | None:
    """The FIM template of a model family named in ``name`` (a guess from the name: only for servers
    that cannot say whether a model fills in the middle)."""
    low = name.lower()
    return next((t for t in TEMPLATES if any(n in low for n in t.names)), None)
