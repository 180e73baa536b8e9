"""A served request through the engine: the same selection, step runner, fallbacks and ledger rows as
`jarvis run`, for messages a client sends instead of a task a chain builds prompts from.

`Gateway.chat` yields plain events (`Text`, then `Finished` or `Failed`); the two APIs (openai_api,
ollama_api) encode them. Fallbacks happen freely until the first piece of text; after it a failure is a
`Failed` event the API writes into the stream (the client already has part of an answer).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from jarvis.chains.analyzer import Analysis, TaskAnalyzer
from jarvis.chains.events import (
    FallbackTaken,
    Notice,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokenDelta,
)
from jarvis.chains.ledger import CANCELLED, COMPLETED, FAILED
from jarvis.chains.router import BACKGROUND
from jarvis.chains.run_options import RunOptions
from jarvis.chains.selection import NoModelAvailable, Request, Selection
from jarvis.chains.served_store import CLIENT_CLOSED, mark_served, set_http_status
from jarvis.chains.step_runner import Cancelled, StepContext, StepOutcome
from jarvis.providers.errors import (
    AuthenticationFailed,
    ContextOverflow,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
)
from jarvis.providers.tokens import estimate_prompt_tokens
from jarvis.providers.types import GenerationOptions, Infill, Message, ToolCall, Usage

from ..engine import Engine
from .models import Route, UnknownModel, resolve
from .tools import calls_text

SERVED = "served"
#: The task type of a fill-in-the-middle request (editors' autocomplete).
FIM_TASK = "fim"
#: The task type of a raw completion (a prompt without a suffix to /v1/completions, or Ollama's raw).
RAW_TASK = "completion"
#: The error code OpenAI gives a request longer than the model's context window (clients look for it).
CONTEXT_EXCEEDED = "context_length_exceeded"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Finished:
    model: str
    usage: Usage
    finish_reason: str
    #: Functions the model asked to call (the text may then be empty); the APIs encode them.
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Failed:
    """``status``: the HTTP status the error gets when nothing was sent yet."""

    status: int
    message: str
    kind: str = "failed"
    retry_after: float | None = None


ServedEvent = Text | Finished | Failed


@dataclass
class ServedRequest:
    """One client request; what the response headers say is read from here when the first byte goes."""

    route: Route
    messages: list[Message]
    options: GenerationOptions
    client: str | None = None
    #: Capabilities every candidate must have (e.g. code for `jarvis/code`).
    capabilities: tuple[str, ...] = ()
    #: Models the selection must not pick (e.g. all but the FIM-trained ones for a suffix).
    exclude: frozenset[str] = frozenset()
    #: Fill in the middle (a suffix was sent): the backend's FIM path, never the chat template.
    infill: Infill | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    run_id: str | None = None
    #: The model answering now (the one that answered, at the end).
    model: str | None = None
    attempts: int = 0
    fallbacks: list[str] = field(default_factory=list)
    #: True once text went to the client: no more fallbacks.
    started: bool = False
    #: Streamed (an error after the first byte still has status 200) or whole (the error's own status).
    stream: bool = True

    def headers(self) -> dict[str, str]:
        out = {"X-Jarvis-Attempts": str(self.attempts), "X-Jarvis-Fallbacks": ",".join(self.fallbacks)}
        if self.model:
            out["X-Jarvis-Model"] = self.model
        if self.run_id:
            out["X-Jarvis-Run"] = self.run_id
        return out


def error_status(err: BaseException | None) -> tuple[int, float | None]:
    """The HTTP status a failure gets, with Retry-After seconds for 429."""
    if isinstance(err, RateLimited):
        return 429, err.retry_after or 1.0
    if getattr(err, "kind", None) == "queue_full":  # chains.router: the backend's queue is full
        return 429, float(getattr(err, "retry_after", 1) or 1)
    if isinstance(err, ContextOverflow):
        return 400, None
    if isinstance(err, ModelNotFound):
        return 404, None
    if isinstance(err, AuthenticationFailed):
        return 502, None
    if isinstance(err, ProviderUnavailable):
        return 503, 5.0
    return 503, None


#: Seconds between two rediscoveries caused by requests for models the registry does not know.
REDISCOVER_MIN_S = 5.0


class Gateway:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.analyzer = TaskAnalyzer()
        #: Requests answering now, whichever API they came through (the REST API cancels them by run id).
        self.running: list[ServedRequest] = []
        self._rediscovered = float("-inf")
        #: Set when the server shuts down: answers still running are cancelled and end with an error.
        self.stopping = False

    def stop_all(self) -> None:
        """Cancel every answer still running (the server is shutting down)."""
        self.stopping = True
        for req in list(self.running):
            req.cancel.set()

    async def resolve(self, requested: str) -> Route:
        """The route a request names; a model the registry does not know yet (pulled after the server
        started) gets one rediscovery first. Raises UnknownModel with one sentence."""
        chains = sorted(self.engine.chains.chains)
        try:
            return resolve(requested, self.engine.registry, chains)
        except UnknownModel:
            clock = self.engine.orchestrator.clock
            # At most one rediscovery per REDISCOVER_MIN_S: a client asking for a missing model in a loop
            # must not turn every request into a round of provider listings.
            if clock.perf_counter() - self._rediscovered < REDISCOVER_MIN_S:
                raise
            self._rediscovered = clock.perf_counter()
            await self.engine.registry.refresh()
            return resolve(requested, self.engine.registry, chains)

    def find(self, run_id: str) -> ServedRequest | None:
        return next((r for r in self.running if r.run_id == run_id), None)

    async def chat(self, req: ServedRequest) -> AsyncIterator[ServedEvent]:
        """The answer's events; an unexpected error is a Failed event (500), never a broken connection."""
        source = self._chain(req) if req.route.kind == "chain" else self._single(req)
        self.running.append(req)
        try:
            ended = False
            async for event in source:
                ended = ended or isinstance(event, Finished | Failed)
                yield event
            if not ended and self.stopping:
                # Cut by the server's shutdown, not by its client: say so, or the client takes the text
                # it has for the whole answer.
                yield Failed(
                    503, "jarvis serve is stopping; this answer was cut off. Ask again.", "shutdown", 5.0
                )
        except Exception as err:
            yield Failed(500, f"The server failed while answering ({type(err).__name__}: {err}).", "internal")
        finally:
            self.running.remove(req)
            await source.aclose()

    # -- one model (a real id, jarvis/auto, jarvis/code) --------------------
    async def _single(self, req: ServedRequest) -> AsyncIterator[ServedEvent]:
        engine = self.engine
        ledger, orchestrator = engine.ledger, engine.orchestrator
        task = last_user_text(req.messages)
        if req.infill is not None:
            # Its own rows in stats and History: autocomplete is not the chat its text looks like. And no
            # rules run over a whole file on every keystroke (2 ms for 20 kB): the request says what it is.
            kind, why = (FIM_TASK, "a suffix was sent") if req.infill.fim else (RAW_TASK, "a raw prompt")
            analysis = Analysis(kind, None, (), estimate_prompt_tokens(req.messages), 1.0, (why,), "request")
        else:
            analysis = self.analyzer.analyze(task)
        est = estimate_prompt_tokens(req.messages)
        max_tokens = req.options.max_tokens or 512
        caps = req.capabilities
        if req.route.kind == "auto":
            caps = tuple(dict.fromkeys((*analysis.capabilities, *caps)))
        elif req.route.kind == "code":
            caps = tuple(dict.fromkeys((*caps, "code")))
        ask = Request(
            task_type=analysis.task_type,
            language=analysis.language,
            role=SERVED,
            capabilities=caps,
            prompt_tokens=est,
            max_tokens=max_tokens,
            explicit=req.route.model_id,
            exclude=req.exclude,
        )
        stats = await orchestrator.stats_for(analysis.task_type)
        selection: Selection | None = None
        refused: NoModelAvailable | None = None
        try:
            selection = engine.selector.select(ask, stats)
        except NoModelAvailable as no_model:
            refused = no_model
        if refused is not None:
            fitted = self._fit_context(ask, stats, sized=req.options.max_tokens is not None)
            if isinstance(fitted, Failed):
                yield fitted
                return
            selection = fitted
        if selection is None:
            cooling = req.route.model_id is not None and engine.runner.cooling(req.route.model_id)
            if not cooling:
                yield Failed(400 if req.route.model_id else 503, str(refused), "no_model")
                return
            # The asked-for model is cooling down after failures: nothing was sent yet, so the next best
            # answers (as a fallback from it would), and the headers say so.
            assert req.route.model_id is not None
            req.fallbacks.append(req.route.model_id)
            entry = engine.registry.lookup(req.route.model_id)
            same_caps = tuple(sorted(entry.capabilities & {"chat", "code"})) if entry else ()
            try:
                selection = engine.selector.select(replace(ask, explicit=None, capabilities=same_caps), stats)
            except NoModelAvailable as again:
                yield Failed(503, f"{refused} {again}", "no_model", 5.0)
                return
        run_id = req.run_id = orchestrator.ids("run")
        model = selection.model
        req.model = model.id
        options = {"model": req.route.requested, "client": req.client}
        ledger.start_run(run_id, SERVED, task, None, analysis.as_json(), options)
        ledger.submit_fn(
            partial(mark_served, run_id=run_id, client=req.client, requested_model=req.route.requested)
        )
        step_id = orchestrator.ids("step")
        ledger.start_step(
            step_id, run_id, 0, SERVED, 0, model.id, model.provider, selection.reason, answer=True
        )
        # Tool traffic waits behind the person at the workbench when a backend's slots are taken.
        ctx = StepContext(run_id, step_id, SERVED, analysis.task_type, req.cancel, priority=BACKGROUND)
        outcome = StepOutcome()
        events = engine.runner.run(
            ctx, [model, *selection.fallbacks], req.messages, req.options, est, outcome, infill=req.infill
        )
        req.attempts = 1
        broken: str | None = None
        try:
            async for event in events:
                if isinstance(event, TokenDelta):
                    if event.text:
                        req.started = True
                        yield Text(event.text)
                elif isinstance(event, FallbackTaken):
                    if req.started:
                        broken = f"{event.from_model} failed after the answer had begun: {event.message}"
                        break
                    req.fallbacks.append(event.from_model)
                    if event.to_model:
                        req.model = event.to_model
                        req.attempts += 1
                elif isinstance(event, Notice) and outcome.completion is None and "Retrying" in event.text:
                    if req.started:
                        broken = f"{req.model} failed after the answer had begun: {event.text}"
                        break
                    req.attempts += 1
        except Cancelled:
            self._finish(req, step_id, CANCELLED, outcome, "The client went away.", CLIENT_CLOSED)
            return
        except (asyncio.CancelledError, GeneratorExit):
            self._finish(req, step_id, CANCELLED, outcome, "The client went away.", CLIENT_CLOSED)
            raise
        finally:
            await events.aclose()
        c = outcome.completion
        if broken is not None or c is None:
            status, retry = error_status(outcome.error)
            message = broken or str(outcome.error or "No model could answer.")
            self._finish(
                req, step_id, FAILED, outcome, message, 200 if req.started and req.stream else status
            )
            kind = getattr(outcome.error, "kind", None) or "failed"
            if isinstance(outcome.error, ContextOverflow):
                kind = CONTEXT_EXCEEDED
            yield Failed(status, message, str(kind), retry)
            return
        answered = outcome.model or model
        req.model = answered.id
        if not req.started and c.text:
            req.started = True
            yield Text(c.text)
        usage = c.usage(cached=outcome.cached)
        self._finish(req, step_id, COMPLETED, outcome, None, 200)
        yield Finished(answered.id, usage, c.finish_reason or "stop", c.tool_calls)

    def _fit_context(self, ask: Request, stats: Any, *, sized: bool) -> Selection | Failed | None:
        """After a refusal: whether the prompt's length was the reason. A prompt that fits once the
        answer's default budget is left out is served (the client set no ``max_tokens``: the model
        answers until its window is full, as OpenAI does); a prompt too long for the named model (or
        for every model) is the client's to shorten: a 400 ``context_length_exceeded``, never a 503.
        None: the length was not the reason."""
        select = self.engine.selector.select
        if not sized:
            with contextlib.suppress(NoModelAvailable):
                return select(replace(ask, max_tokens=1), stats)
        try:
            select(replace(ask, prompt_tokens=0, max_tokens=1), stats)
        except NoModelAvailable:
            return None  # refused whatever the length: another reason
        return Failed(400, too_long_message(self.engine, ask, sized), CONTEXT_EXCEEDED)

    def _finish(
        self,
        req: ServedRequest,
        step_id: str,
        status: str,
        outcome: StepOutcome,
        error: str | None,
        http: int,
    ) -> None:
        ledger = self.engine.ledger
        assert req.run_id is not None
        c = outcome.completion
        if status == COMPLETED and c is not None:
            answered = outcome.model
            ledger.finish_step(
                step_id,
                COMPLETED,
                c.text or calls_text(c.tool_calls),
                c.usage(cached=outcome.cached),
                model_id=answered.id if answered else None,
                provider=answered.provider if answered else None,
                notices=outcome.notices,
            )
            result: dict[str, object] = {"answer": c.text, "model": req.model}
            if c.tool_calls:  # an answer that is calls alone is complete, its text empty
                result["tool_calls"] = [t.as_openai() for t in c.tool_calls]
            ledger.finish_run(req.run_id, COMPLETED, result=result)
        else:
            ledger.finish_step(
                step_id, status, outcome.partial_text, None, notices=outcome.notices, error=error
            )
            ledger.finish_run(
                req.run_id, status, error=error, error_kind="client_closed" if http == 499 else None
            )
        ledger.submit_fn(partial(set_http_status, run_id=req.run_id, status=http))

    # -- a whole chain (jarvis/chain/<name>) --------------------------------
    async def _chain(self, req: ServedRequest) -> AsyncIterator[ServedEvent]:
        engine = self.engine
        assert req.route.chain is not None
        answer_role = engine.chains.get(req.route.chain).answer_role.name
        task = conversation_task(req.messages)
        overrides = {k: v for k, v in req.options.model_dump().items() if v is not None and k != "max_tokens"}
        run = engine.orchestrator.run(
            task, RunOptions(chain=req.route.chain, overrides=overrides), req.cancel
        )
        prompt_tokens = completion_tokens = 0
        status: int | None = None  # settled by the answer or the failure; unsettled: the client left
        try:
            async for event in run:
                if isinstance(event, RunStarted):
                    req.run_id = event.run_id
                    engine.ledger.submit_fn(
                        partial(
                            mark_served,
                            run_id=event.run_id,
                            client=req.client,
                            requested_model=req.route.requested,
                        )
                    )
                elif isinstance(event, StepStarted):
                    req.attempts += 1
                elif isinstance(event, FallbackTaken):
                    req.fallbacks.append(event.from_model)
                    req.attempts += 1 if event.to_model else 0
                elif isinstance(event, StepFinished):
                    prompt_tokens += event.usage.prompt_tokens or 0
                    completion_tokens += event.usage.completion_tokens or 0
                    if event.role == answer_role and event.status == COMPLETED:
                        req.model = event.model_id
                elif isinstance(event, RunFinished):
                    status = 200
                    answer = getattr(event.result, "answer", "") or ""
                    req.started = True
                    yield Text(answer)
                    usage = Usage(
                        prompt_tokens, completion_tokens, total_s=event.total_s, cost_usd=event.cost_usd
                    )
                    yield Finished(req.model or "", usage, "stop")
                elif isinstance(event, RunFailed):
                    status = 400 if event.kind == "usage" else 503
                    yield Failed(status, event.message, event.kind)
        finally:
            await run.aclose()
            if req.run_id is not None:
                final = CLIENT_CLOSED if status is None else status
                engine.ledger.submit_fn(partial(set_http_status, run_id=req.run_id, status=final))


def too_long_message(engine: Engine, ask: Request, sized: bool) -> str:
    """OpenAI's sentence for a request longer than the context window, with this request's numbers
    (``sized``: the client set max_tokens, which counts; otherwise the messages alone are too long)."""
    if sized:
        asked = f"{ask.prompt_tokens + ask.max_tokens} tokens ({ask.prompt_tokens} in the messages, "
        asked += f"{ask.max_tokens} in the completion)"
    else:
        asked = f"{ask.prompt_tokens} tokens for the messages alone"
    if ask.explicit:
        entry = engine.registry.lookup(ask.explicit)
        window = entry.context_length if entry is not None else None
        whose = f"{ask.explicit}'s maximum context length is {window} tokens"
    else:
        windows = [m.context_length or 0 for m in engine.registry.models if "chat" in m.capabilities]
        whose = f"the largest context window of the models served here is {max(windows, default=0)} tokens"
    fix = "Shorten the messages or lower max_tokens." if sized else "Shorten the messages."
    return f"The request is too long: {whose}, and it needs about {asked}. {fix}"


def last_user_text(messages: list[Message]) -> str:
    """What the request is about, for the task analysis and the History list."""
    for m in reversed(messages):
        if m.role == "user" and m.content.strip():
            return m.content
    return messages[-1].content if messages else ""


def conversation_task(messages: list[Message]) -> str:
    """A chain takes one task: the last user message, with the earlier turns above it when there are any."""
    last = last_user_text(messages)
    earlier = [m for m in messages if m.content and m.content is not last]
    if not earlier:
        return last
    history = "\n\n".join(f"{m.role}: {m.content}" for m in earlier)
    return f"{history}\n\nuser: {last}"
