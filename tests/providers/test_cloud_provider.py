"""Cloud provider: the real litellm code path, pointed at the loopback OpenAI-compatible server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jarvis.providers.cloud import CloudProvider
from jarvis.providers.errors import AuthenticationFailed, ModelNotFound, ProviderUnavailable
from tests.conftest import dead_url
from tests.helpers import GREEDY, ask, collect

SECRET = "sk-test-Sup3rSecretValue123"


async def test_streams_through_litellm(openai_url):
    provider = CloudProvider(
        "cloud", ["openai/smollm2"], api_keys={"openai": SECRET}, api_base=openai_url + "/v1"
    )
    pieces, final = await collect(provider.stream_chat("openai/smollm2", ask("Say hello."), GREEDY))
    assert "".join(pieces) == final.text and final.text
    assert final.provider == "cloud" and final.completion_tokens > 0
    assert final.cost_usd == 0.0  # not in litellm's price list: a local model, free


async def test_failure_never_shows_the_key(capsys):
    provider = CloudProvider(
        "cloud", ["openai/x"], api_keys={"openai": SECRET}, api_base=dead_url() + "/v1", timeout=5
    )
    with pytest.raises(ProviderUnavailable) as err:
        await collect(provider.stream_chat("openai/x", ask("hi")))
    out = capsys.readouterr()
    assert SECRET not in str(err.value) and SECRET not in repr(err.value.__dict__)
    # litellm's "Give Feedback" banner must not reach our stdout (it would break --json).
    assert "Give Feedback" not in out.out


async def test_missing_key_names_the_variable():
    provider = CloudProvider("cloud", ["anthropic/claude-3-5-haiku-latest"])
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
        await collect(provider.stream_chat("anthropic/claude-3-5-haiku-latest", ask("hi")))


async def test_only_enabled_models():
    provider = CloudProvider("cloud", ["openai/gpt-4o-mini"], api_keys={"openai": SECRET})
    with pytest.raises(ModelNotFound, match="not among the cloud models you enabled"):
        await collect(provider.stream_chat("openai/gpt-4o", ask("hi")))
    [info] = await provider.list_models()
    assert info.id == "cloud/openai/gpt-4o-mini" and info.local is False


def test_cost_from_local_price_map():
    provider = CloudProvider("cloud", ["openai/gpt-4o-mini"])
    assert provider.cost("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15, rel=0.5)


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_litellm_is_not_imported_until_used():
    code = (
        "import sys; import jarvis.providers.cloud as c; from jarvis.app import compose, cli;"
        "p = c.CloudProvider('cloud', ['openai/gpt-4o-mini']);"
        "assert 'litellm' not in sys.modules, 'litellm imported early'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
