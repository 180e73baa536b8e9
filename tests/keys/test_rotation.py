"""Rotation in the cloud provider, through litellm to the loopback endpoint: a rejected or rate-limited
key sits out a cooldown and the same request is answered with the next key; only when every key fails
does the engine's fallback hear of it."""

from __future__ import annotations

import pytest

from jarvis.providers.cloud import CloudProvider
from jarvis.providers.errors import AuthenticationFailed, RateLimited
from jarvis.providers.keys.rotation import KeyRotation
from jarvis.providers.keys.sources import KeySources
from tests.helpers import ask, collect

pytestmark = pytest.mark.slow  # a loopback server, and litellm

MODEL = "openai/gpt-4o-mini"
KEY_A = "sk-test-AAAAAAAAAAAAAAAAAAAAfirst"
KEY_B = "sk-test-BBBBBBBBBBBBBBBBBBBsecond"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(server, clock, uses) -> CloudProvider:
    # The environment's key first (it wins), then the config's: two keys, named "env" and "config".
    sources = KeySources({"OPENAI_API_KEY": KEY_A}, {"openai": KEY_B})
    return CloudProvider(
        "cloud",
        [MODEL],
        api_base=server.url,
        timeout=10,
        keys=KeyRotation(sources, clock=clock),
        on_key_use=uses.append,
    )


async def test_rate_limited_key_sits_out_its_cooldown(cloud_server):
    cloud_server.keys = {KEY_A: "limited", KEY_B: "ok"}
    clock, uses = Clock(), []
    p = provider(cloud_server, clock, uses)
    pieces, final = await collect(p.stream_chat(MODEL, ask("ping")))
    assert final.text == "pong" and cloud_server.seen == [KEY_A, KEY_B]
    [notice] = final.warnings
    assert "'env' is rate limited; answered with key 'config'" in notice and "30 s" in notice
    assert [(u.key_name, u.outcome) for u in uses] == [("env", "rate_limited"), ("config", "ok")]
    assert uses[1].prompt_tokens == 5 and uses[1].completion_tokens == 1

    cloud_server.seen.clear()
    clock.now += 29  # within the server's Retry-After: the limited key is not tried
    _, final = await collect(p.stream_chat(MODEL, ask("ping")))
    assert cloud_server.seen == [KEY_B] and final.warnings == ()

    cloud_server.seen.clear()
    cloud_server.keys[KEY_A] = "ok"
    clock.now += 2  # the cooldown is over: the first key is first again
    await collect(p.stream_chat(MODEL, ask("ping")))
    assert cloud_server.seen == [KEY_A]
    assert p.keys.state("openai", "env") == "ok"


async def test_every_key_limited_is_one_rate_limit_for_the_fallback(cloud_server):
    cloud_server.keys = {KEY_A: "limited", KEY_B: "limited"}
    clock, uses = Clock(), []
    p = provider(cloud_server, clock, uses)
    with pytest.raises(RateLimited) as err:
        await collect(p.stream_chat(MODEL, ask("ping")))
    assert "every key tried ('env', 'config')" in str(err.value) and err.value.retry_after == 30
    cloud_server.seen.clear()
    clock.now += 5  # both cooling: nothing is sent, and the error says when one is free
    with pytest.raises(RateLimited) as err:
        await collect(p.stream_chat(MODEL, ask("ping")))
    assert cloud_server.seen == [] and err.value.retry_after == pytest.approx(25)


async def test_every_key_rejected_names_them_and_never_shows_one(cloud_server):
    cloud_server.keys = {}  # both revoked: the server's 401 body echoes each key
    p = provider(cloud_server, Clock(), [])
    with pytest.raises(AuthenticationFailed) as err:
        await collect(p.stream_chat(MODEL, ask("ping")))
    text = str(err.value) + repr(err.value.__dict__)
    assert "rejected every key tried ('env', 'config')" in text
    assert KEY_A not in text and KEY_B not in text
    with pytest.raises(AuthenticationFailed, match="Every key for openai .* was rejected"):
        await collect(p.stream_chat(MODEL, ask("ping")))


async def test_one_key_fails_as_before(cloud_server):
    """A single key that is rejected is the provider's ordinary authentication failure."""
    p = CloudProvider("cloud", [MODEL], api_keys={"openai": KEY_A}, api_base=cloud_server.url, timeout=10)
    with pytest.raises(AuthenticationFailed, match="rejected the API key"):
        await collect(p.stream_chat(MODEL, ask("ping")))


async def test_a_forbidden_key_is_rotated_like_a_rejected_one(cloud_server):
    cloud_server.keys = {KEY_A: "forbidden", KEY_B: "ok"}
    uses = []
    _, final = await collect(provider(cloud_server, Clock(), uses).stream_chat(MODEL, ask("ping")))
    assert final.text == "pong" and cloud_server.seen == [KEY_A, KEY_B]
    assert [(u.key_name, u.outcome) for u in uses] == [("env", "rejected"), ("config", "ok")]


class CountingSources(KeySources):
    loads = 0

    def load(self, prefix):
        self.loads += 1
        return super().load(prefix)


async def test_concurrent_first_requests_read_the_keys_once(cloud_server):
    import asyncio

    cloud_server.keys = {KEY_A: "ok"}
    sources = CountingSources({"OPENAI_API_KEY": KEY_A})
    p = CloudProvider("cloud", [MODEL], api_base=cloud_server.url, timeout=10, keys=KeyRotation(sources))
    results = await asyncio.gather(*(collect(p.stream_chat(MODEL, ask("ping"))) for _ in range(3)))
    assert sources.loads == 1 and [final.text for _, final in results] == ["pong"] * 3
