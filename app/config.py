"""User configuration: pydantic models read from TOML; a bad file gets a sentence naming key and line."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jarvis.chains.toml_errors import NotUTF8, decode, syntax_error, validation_problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class OllamaHost(_Section):
    name: str = "ollama"
    """Provider name, the prefix of model ids (ollama/qwen2.5-coder:7b). Give each extra host its own."""
    url: str = "http://127.0.0.1:11434"
    """Base URL of the Ollama server."""


class OllamaConfig(_Section):
    enabled: bool = True
    """Look for Ollama servers."""
    hosts: list[OllamaHost] | None = None
    """Ollama servers to use; by default one at OLLAMA_HOST or http://127.0.0.1:11434."""
    num_ctx: int = Field(default=4096, gt=0)
    """Context window sent with every request unless a larger prompt needs more (never Ollama's default)."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for the next streamed piece before giving up."""
    keep_alive: str | None = None
    """How long Ollama keeps a model loaded after a request ("5m", "1h", "-1" forever)."""


class LMStudioConfig(_Section):
    enabled: bool = True
    """Look for LM Studio's local server."""
    url: str = "http://127.0.0.1:1234"
    """Base URL of LM Studio's server."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for the next streamed piece."""


class OpenAIEndpoint(_Section):
    name: str
    """Provider name, the prefix of model ids (e.g. "gpubox")."""
    url: str
    """Base URL without /v1 (vLLM, llama-server, a LiteLLM proxy...)."""
    api_key_env: str | None = None
    """Name of an environment variable holding the key, if the server wants one."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for the next streamed piece."""


class EmbeddedConfig(_Section):
    enabled: bool = True
    """Run GGUF models in-process with llama.cpp."""
    include_default: bool = True
    """Offer the bundled SmolLM2-135M-Instruct model."""
    models: dict[str, str] = Field(default_factory=dict)
    """Extra GGUF files: name = "path/to/model.gguf"."""
    n_ctx: int = Field(default=4096, gt=0)
    """Context window the embedded models are loaded with."""
    n_threads: int | None = Field(default=None, gt=0)
    """CPU threads for generation; default: the number of physical cores."""


class CloudConfig(_Section):
    enabled: bool = False
    """Allow cloud models as fallbacks (off by default: local-first)."""
    models: list[str] = Field(default_factory=list)
    """litellm model strings, e.g. "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"."""
    api_keys: dict[str, str] = Field(default_factory=dict, repr=False)
    """Plain-text keys by provider prefix (openai = "..."), still read, with a warning: keep keys with
    `jarvis keys add` (OS keyring or encrypted file) instead. Environment variables come first."""
    api_base: str | None = None
    """Send cloud requests to this OpenAI-compatible base URL instead (a proxy)."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds per request."""


class ResourcesConfig(_Section):
    reserve_gib: float = Field(default=1.0, ge=0)
    """Memory kept free for the rest of the machine when judging whether a model fits."""


class LifecycleConfig(_Section):
    pinned: list[str] = Field(default_factory=list)
    """Model ids kept loaded: a sequential comparison or an eval unloads every other model after its turn."""
    keep_alive: dict[str, str] = Field(default_factory=dict)
    """Ollama keep_alive per model id ("ollama/qwen2.5-coder:7b" = "1h"; "-1" = until unloaded)."""


class DiscoveryConfig(_Section):
    timeout: float = Field(default=2.0, gt=0)
    """Seconds each provider gets to list its models; a dead one never delays the rest beyond this."""


class RouterLimitConfig(_Section):
    per_model: int | None = Field(default=None, ge=0)
    """Requests at once per model on this backend (0: no bound; unset: the backend's default)."""
    total: int | None = Field(default=None, ge=0)
    """Requests at once on this backend in all (0: no bound; unset: the backend's default)."""


class RouterConfig(_Section):
    queue_size: int = Field(default=32, ge=0)
    """Background (server) requests that may wait per backend; more get 429 with a Retry-After."""
    limits: dict[str, RouterLimitConfig] = Field(default_factory=dict)
    """Limits by provider name ("gpubox") or kind (ollama, lmstudio, embedded, openai, cloud)."""


class CustomModelConfig(_Section):
    id: str
    """Model id, provider/name (e.g. "ollama/my-finetune:latest")."""
    capabilities: list[str] = Field(default_factory=list)
    """Capabilities to add: completion, chat, embeddings, function_calling, vision, code."""
    context_length: int | None = Field(default=None, gt=0)
    """Context window, when the provider does not report it."""
    cost_in_per_1k: float | None = Field(default=None, ge=0)
    """Dollars per 1,000 prompt tokens."""
    cost_out_per_1k: float | None = Field(default=None, ge=0)
    """Dollars per 1,000 completion tokens."""
    tags: list[str] = Field(default_factory=list)
    """Free-form tags."""
    description: str = ""
    """A note shown in the Models screen."""


class Config(_Section):
    ollama: OllamaConfig = Field(default_factory=OllamaConfig)
    lmstudio: LMStudioConfig = Field(default_factory=LMStudioConfig)
    openai_endpoints: list[OpenAIEndpoint] = Field(default_factory=list)
    """Any number of other OpenAI-compatible servers."""
    embedded: EmbeddedConfig = Field(default_factory=EmbeddedConfig)
    cloud: CloudConfig = Field(default_factory=CloudConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    """Per-backend queues: how many requests each backend gets at once."""
    custom_models: list[CustomModelConfig] = Field(default_factory=list)
    """Models you register yourself (extra facts, or models to expect)."""


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, the key and the line."""


def load_config(path: Path) -> Config:
    """The config at ``path``, or the defaults when the file does not exist."""
    if not path.exists():
        return Config()
    try:
        text = decode(path.read_bytes(), str(path))
    except OSError as err:
        raise ConfigError(f"Cannot read the config file {path}: {err.strerror}.") from None
    except NotUTF8 as err:
        raise ConfigError(str(err)) from None
    return parse_config(text, str(path))


def parse_config(text: str, origin: str) -> Config:
    """``text`` as a config; ``origin`` names it in errors (a path, or "the README's example")."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        advice = "Fix that line, or move the file away to use the defaults."
        raise ConfigError(f"{syntax_error(origin, err, text)} {advice}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        problems = validation_problems(text, err)
        raise ConfigError(f"{origin} has a problem: " + "; ".join(problems) + ".") from None


def ollama_hosts(config: OllamaConfig, env: dict[str, str] | None = None) -> list[OllamaHost]:
    if config.hosts:
        return config.hosts
    env = os.environ if env is None else env
    return [OllamaHost(name="ollama", url=env.get("OLLAMA_HOST") or "http://127.0.0.1:11434")]
