"""Plain data types shared by every provider: messages, options, stream chunks, model info."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]

#: Capabilities a model may have; the registry and the selection engine filter on these.
#: "fim": fills in the middle with its own FIM tokens (the backend says so, or the model family is known).
CAPABILITIES = ("completion", "chat", "embeddings", "function_calling", "vision", "code", "fim")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call a model asked for, in OpenAI's terms: ``arguments`` is the JSON text (Ollama
    sends an object; its provider turns it into text). ``id`` is "" when the backend gave none."""

    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    #: An assistant turn's calls (a conversation an agent sends back after running them).
    tool_calls: tuple[ToolCall, ...] = ()
    #: A tool turn's answer to this call.
    tool_call_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.as_openai() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


#: What a function's name may be: letters, digits, underscores and dashes, at most 64 (OpenAI's rule).
TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class ToolSpec(BaseModel):
    """A function the model may call (OpenAI's and Ollama's ``{"type": "function", "function": ...}``)."""

    model_config = ConfigDict(frozen=True)

    #: OpenAI's rule for function names. Also what llama.cpp's grammars can carry: a quote in a name broke
    #: the grammar llama-cpp-python's tool handler builds from the names, and llama.cpp then crashed the
    #: process (a segfault, measured with 0.3.36).
    name: str = Field(pattern=TOOL_NAME)
    description: str | None = None
    #: JSON Schema of the arguments.
    parameters: dict[str, Any] = Field(default_factory=dict)

    def as_openai(self) -> dict[str, Any]:
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters or {"type": "object"}}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


class GenerationOptions(BaseModel):
    """Per-request generation options; unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature; 0 is greedy."
    )
    max_tokens: int | None = Field(default=None, gt=0, description="Upper bound on generated tokens.")
    top_p: float | None = Field(default=None, gt=0, le=1, description="Nucleus sampling mass.")
    stop: tuple[str, ...] | None = Field(default=None, description="Stop sequences.")
    seed: int | None = Field(default=None, description="Sampling seed, for repeatable answers.")
    num_ctx: int | None = Field(
        default=None,
        gt=0,
        description="Context window to run the model with. Always sent to Ollama so it never truncates"
        " silently.",
    )
    tools: tuple[ToolSpec, ...] | None = Field(
        default=None, description="Functions the model may call instead of answering in text."
    )
    tool_choice: str | None = Field(
        default=None,
        description='"auto", "none", "required", or the name of the one function the model must call.',
    )

    def is_deterministic(self) -> bool:
        return self.temperature == 0 or self.seed is not None


@dataclass(frozen=True, slots=True)
class Infill:
    """A raw completion: the prompt as it is, no chat template. With a ``suffix`` (fill in the middle) the
    backend wraps prompt and suffix in the model's own FIM tokens and streams the middle; without one
    (``None``) it continues the prompt, special tokens in it parsed (editors that build FIM prompts
    themselves send them this way)."""

    prompt: str
    suffix: str | None = None

    @property
    def fim(self) -> bool:
        return self.suffix is not None

    def as_messages(self) -> list[Message]:
        """How the request reads in History, the task analysis and token estimates."""
        if self.suffix is None:
            return [Message("user", self.prompt)]
        return [Message("user", f"{self.prompt}{FILL_MARK}{self.suffix}")]


#: Where the middle goes, in the infill's text as History shows it.
FILL_MARK = "<FILL_HERE>"


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What one answer cost and how fast it came: the same record in events, ledger rows and JSON output."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    total_s: float | None = None
    finish_reason: str | None = None
    #: True when the token counts were estimated because the server gave none.
    usage_estimated: bool = False
    cost_usd: float = 0.0
    #: Served from the answer cache (no model ran).
    cached: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Completion:
    """The final record every stream ends with, the same shape for every provider."""

    provider: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    tokens_per_s: float | None
    total_s: float
    finish_reason: str
    #: True when the token counts were estimated because the server gave none.
    usage_estimated: bool = False
    #: Things the user should know about this answer (e.g. a server answered with another model).
    warnings: tuple[str, ...] = ()
    #: Price of this request in US dollars; local models are free.
    cost_usd: float = 0.0
    #: The functions the model asked to call (finish_reason "tool_calls"); the text may then be empty.
    tool_calls: tuple[ToolCall, ...] = ()

    def usage(self, *, cached: bool = False) -> Usage:
        """This answer's numbers; a cached answer cost nothing this time."""
        return Usage(
            self.prompt_tokens,
            self.completion_tokens,
            self.ttft_s,
            self.tokens_per_s,
            self.total_s,
            self.finish_reason,
            self.usage_estimated,
            0.0 if cached else self.cost_usd,
            cached,
        )

    def cache_record(self) -> dict[str, Any]:
        """What the answer cache keeps (no warnings: they were about the original request)."""
        return {k: v for k, v in asdict(self).items() if k != "warnings"}

    @classmethod
    def from_cache(cls, record: dict[str, Any]) -> Completion:
        fields = {k: v for k, v in record.items() if k != "warnings"}
        fields["tool_calls"] = tuple(ToolCall(**c) for c in fields.get("tool_calls") or ())
        return cls(**fields)


StreamChunk = Delta | Completion


@dataclass(slots=True)
class ModelInfo:
    """What a provider knows about one of its models."""

    provider: str
    name: str
    context_length: int | None = None
    size_bytes: int | None = None
    capabilities: frozenset[str] = frozenset()
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    loaded: bool | None = None
    #: Layer geometry for the KV-cache estimate: block_count, embedding_length, head_count, head_count_kv, ...
    geometry: dict[str, int] = field(default_factory=dict)
    #: Where the weights live, for the embedded provider.
    path: str | None = None
    #: The server runs on this machine, so its memory is our memory.
    local: bool = True
    details: dict[str, object] = field(default_factory=dict)
    #: provider/name, computed once: selection reads it for every model on every request.
    id: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.id = f"{self.provider}/{self.name}"
