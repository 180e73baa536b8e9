"""The design documents' REST API (JSON) under /api/models/..., and GET /health.

Models: list, get, register (a `[[custom_models]]` table, as the Models screen's form writes); completion,
chat and embeddings on one model, through the same gateway, router, fallbacks and ledger as the OpenAI
and Ollama APIs; feedback (a rating or a vote, the code path of `jarvis rate` / `jarvis vote`, published
as `model.feedback.received`); performance per model and task type with daily, weekly and monthly trends;
performance/reset; cancelling a request by id. Bad input gets a 4xx and one sentence: {"error": "..."}.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jarvis.chains import feedback
from jarvis.chains.scores import PerformanceMonitor
from jarvis.providers.registry import ModelEntry
from jarvis.providers.types import GenerationOptions, Message

from ..engine import Engine
from .embeddings import EmbedFailed, embed
from .gateway import Failed, Finished, Gateway, ServedRequest, Text
from .models import Route as ModelRoute
from .models import find_entry

#: What a completion or chat body may carry besides its text: the engine's generation options.
OPTION_KEYS = ("temperature", "max_tokens", "top_p", "stop", "seed", "num_ctx")
ROLES = ("system", "user", "assistant")
#: The trend periods asked of the performance monitor, by the name the response gives them.
TRENDS = {"daily": "day", "weekly": "week", "monthly": "month"}
CLIENT_CLOSED = 499


class BadInput(Exception):
    """A request this API cannot serve; ``status`` is the HTTP status its sentence goes out with."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def error(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("The body is not JSON; send a JSON object (Content-Type: application/json).") from None
    if not isinstance(data, dict):
        raise BadInput('The body must be a JSON object, e.g. {"prompt": "..."}.')
    return data


def options_of(body: dict[str, Any]) -> GenerationOptions:
    given = {k: body[k] for k in OPTION_KEYS if body.get(k) is not None}
    if isinstance(given.get("stop"), str):
        given["stop"] = [given["stop"]]
    try:
        return GenerationOptions.model_validate(given)
    except ValidationError as err:
        e = err.errors()[0]
        raise BadInput(f"{'.'.join(str(k) for k in e['loc'])}: {e['msg']}.") from None


def messages_of(body: dict[str, Any]) -> list[Message]:
    items = body.get("messages")
    if not isinstance(items, list) or not items:
        raise BadInput('"messages" must be a non-empty list of {"role": ..., "content": ...}.')
    out = []
    for i, m in enumerate(items):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise BadInput(f"messages[{i}] needs a role ({', '.join(ROLES)}) and a string content.")
        out.append(Message(m["role"], m["content"]))
    return out


class DesignApi:
    def __init__(self, engine: Engine, gateway: Gateway | None = None) -> None:
        self.engine = engine
        # The OpenAI and Ollama APIs' gateway when mounted beside them: a request from any API can be
        # cancelled here by its run id (their X-Jarvis-Run header).
        self.gateway = gateway or Gateway(engine)
        #: Requests answering now, by the id the client may cancel them with (ours, or its X-Request-Id).
        self.active: dict[str, ServedRequest] = {}

    def routes(self) -> list[BaseRoute]:
        m = "/api/models/{model_id:path}"
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/api/models", self.list_models, methods=["GET"]),
            Route("/api/models", self.register_model, methods=["POST"]),
            Route("/api/performance", self.performance_all, methods=["GET"]),
            Route("/api/feedback", self.feedback, methods=["POST"]),
            Route("/api/requests/{request_id}/cancel", self.cancel, methods=["POST"]),
            Route("/api/requests/{request_id}", self.cancel, methods=["DELETE"]),
            # The id holds slashes (ollama/qwen2.5-coder:7b): the suffixed routes go before the bare one.
            Route(m + "/completion", self.completion, methods=["POST"]),
            Route(m + "/chat", self.chat, methods=["POST"]),
            Route(m + "/embeddings", self.embeddings, methods=["POST"]),
            Route(m + "/feedback", self.feedback, methods=["POST"]),
            Route(m + "/performance/reset", self.reset_performance, methods=["POST"]),
            Route(m + "/performance", self.performance, methods=["GET"]),
            Route(m, self.get_model, methods=["GET"]),
        ]

    # -- health and models ---------------------------------------------------
    async def health(self, request: Request) -> Response:
        registry = self.engine.registry
        if registry.generation == 0:
            return JSONResponse(
                {"status": "starting", "error": "The model registry is not ready yet; try again shortly."},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        load = self.engine.router.load()
        return JSONResponse(
            {
                "status": "ok",
                "models": len(registry.models),
                "unreachable": [u.as_json() for u in registry.discovery.unreachable],
                "in_flight": load.in_flight,
                "queued": load.queued,
            }
        )

    async def list_models(self, request: Request) -> Response:
        registry = self.engine.registry
        return JSONResponse(
            {
                "models": [e.as_json() for e in registry.models],
                "unreachable": [u.as_json() for u in registry.discovery.unreachable],
            }
        )

    def entry(self, request: Request) -> ModelEntry:
        name = request.path_params["model_id"]
        found = find_entry(name, self.engine.registry)
        if found is None:
            raise BadInput(f"The model '{name}' is not known here; GET /api/models lists the models.", 404)
        return found

    async def get_model(self, request: Request) -> Response:
        return await self.guarded(lambda: self._get_model(request))

    async def _get_model(self, request: Request) -> Response:
        return JSONResponse(self.entry(request).as_json())

    async def register_model(self, request: Request) -> Response:
        return await self.guarded(lambda: self._register_model(request))

    async def _register_model(self, request: Request) -> Response:
        from ..compose import custom_model
        from ..custom_models import RegistrationError, parse_fields, register

        body = await body_of(request)
        fields = {}
        for key, value in body.items():
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            fields[key] = "" if value is None else str(value)
        try:
            model = parse_fields(fields)
            known = [c.id for c in self.engine.registry.custom.values()]
            if model.id in known:
                raise BadInput(f"{model.id} is already registered; edit it in the config file.", 409)
            await asyncio.to_thread(register, self.engine.paths.config_file, model)
        except RegistrationError as err:
            raise BadInput(str(err), 409 if "already registered" in str(err) else 400) from None
        self.engine.registry.custom[model.id] = custom_model(model)
        await self.engine.registry.refresh()
        found = self.engine.registry.lookup(model.id)
        return JSONResponse(
            {
                "model": found.as_json() if found else model.model_dump(),
                "saved_in": str(self.engine.paths.config_file),
            },
            status_code=201,
        )

    # -- completion, chat, embeddings ----------------------------------------
    async def completion(self, request: Request) -> Response:
        async def run() -> Response:
            self.entry(request)  # an unknown model is a 404 whatever the body says
            body = await body_of(request)
            prompt = body.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise BadInput('"prompt" must be a non-empty string.')
            messages = []
            if isinstance(body.get("system"), str):
                messages.append(Message("system", body["system"]))
            messages.append(Message("user", prompt))
            return await self.answer(request, body, messages, chat=False)

        return await self.guarded(run)

    async def chat(self, request: Request) -> Response:
        async def run() -> Response:
            self.entry(request)  # an unknown model is a 404 whatever the body says
            body = await body_of(request)
            return await self.answer(request, body, messages_of(body), chat=True)

        return await self.guarded(run)

    async def answer(
        self, request: Request, body: dict[str, Any], messages: list[Message], *, chat: bool
    ) -> Response:
        entry = self.entry(request)
        options = options_of(body)
        request_id = request.headers.get("x-request-id") or self.engine.orchestrator.ids("req")
        if request_id in self.active:
            raise BadInput(
                f"A request with id {request_id} is already running; use another X-Request-Id.", 409
            )
        req = ServedRequest(
            ModelRoute(entry.id, "model", model_id=entry.id),
            messages,
            options,
            client=request.headers.get("user-agent"),
        )
        self.active[request_id] = req
        parts: list[str] = []
        done: Finished | None = None
        failed: Failed | None = None
        try:
            async for event in self.gateway.chat(req):
                if isinstance(event, Text):
                    parts.append(event.text)
                elif isinstance(event, Finished):
                    done = event
                elif isinstance(event, Failed):
                    failed = event
        finally:
            self.active.pop(request_id, None)
        headers = {**req.headers(), "X-Jarvis-Request": request_id}
        if failed is not None:
            if failed.retry_after is not None:
                headers["Retry-After"] = str(max(1, round(failed.retry_after)))
            return JSONResponse(
                {"error": failed.message, "kind": failed.kind, "id": req.run_id},
                status_code=failed.status,
                headers=headers,
            )
        if done is None:
            return error("The request was cancelled before it finished.", CLIENT_CLOSED, headers)
        text = "".join(parts)
        out: dict[str, Any] = {
            "id": req.run_id,
            "request_id": request_id,
            "model": done.model,
            "finish_reason": done.finish_reason,
            "usage": done.usage.as_json(),
        }
        if chat:
            out["message"] = {"role": "assistant", "content": text}
        else:
            out["text"] = text
        return JSONResponse(out, headers=headers)

    async def embeddings(self, request: Request) -> Response:
        async def run() -> Response:
            entry = self.entry(request)
            body = await body_of(request)
            given = body.get("input")
            texts = [given] if isinstance(given, str) else given
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                raise BadInput('"input" must be a string or a non-empty list of strings.')
            try:
                result = await embed(self.engine, entry.id, texts)  # takes the backend's router slot
            except EmbedFailed as err:
                raise BadInput(str(err), err.status, err.headers()) from None
            return JSONResponse(
                {
                    "model": result.model,
                    "embeddings": result.vectors,
                    "usage": {"prompt_tokens": result.prompt_tokens, "total_s": result.seconds},
                }
            )

        return await self.guarded(run)

    # -- feedback and performance ----------------------------------------------
    async def feedback(self, request: Request) -> Response:
        async def run() -> Response:
            body = await body_of(request)
            ledger = self.engine.ledger
            try:
                if body.get("compare_id") is not None:
                    winner = body.get("winner", body.get("vote"))
                    if not isinstance(winner, str):
                        raise BadInput('A vote needs "winner": A, B, C, D, tie or bad.')
                    record = await ledger.call_fn(feedback.vote, str(body["compare_id"]), winner)
                else:
                    target = body.get("target") or body.get("step_id") or body.get("run_id")
                    score = body.get("score", body.get("rating"))
                    if not isinstance(target, str) or not isinstance(score, int) or isinstance(score, bool):
                        raise BadInput(
                            'A rating needs "target" (a run_... or step_... id) and an integer "score" 1-5;'
                            ' a vote needs "compare_id" and "winner".'
                        )
                    record = await ledger.call_fn(
                        feedback.rate,
                        target,
                        score,
                        comment=body.get("comment"),
                        correction=body.get("correction"),
                    )
            except feedback.FeedbackError as err:
                message = str(err)
                raise BadInput(
                    message[0].upper() + message[1:], 404 if message.startswith("no ") else 400
                ) from None
            self.engine.bus.publish(feedback.received(record))
            return JSONResponse({"feedback": record}, status_code=201)

        return await self.guarded(run)

    async def performance(self, request: Request) -> Response:
        async def run() -> Response:
            entry = self.entry(request)
            task_type = request.query_params.get("task_type") or None
            return JSONResponse(await self.engine.ledger.call_fn(_performance, entry.id, task_type))

        return await self.guarded(run)

    async def performance_all(self, request: Request) -> Response:
        task_type = request.query_params.get("task_type") or None
        return JSONResponse(await self.engine.ledger.call_fn(_performance, None, task_type))

    async def reset_performance(self, request: Request) -> Response:
        async def run() -> Response:
            entry = self.entry(request)
            body = await body_of(request)
            task_type = body.get("task_type") or "*"
            if not isinstance(task_type, str):
                raise BadInput('"task_type" must be a task type name, or "*" for all of them.')
            await self.engine.ledger.call_fn(lambda led: PerformanceMonitor(led).reset(entry.id, task_type))
            await self.engine.orchestrator.refresh_stats()  # selection stops using the forgotten numbers now
            return JSONResponse({"model": entry.id, "task_type": task_type, "reset": True})

        return await self.guarded(run)

    # -- cancel ----------------------------------------------------------------
    async def cancel(self, request: Request) -> Response:
        wanted = request.path_params["request_id"]
        req = self.active.get(wanted) or self.gateway.find(wanted)
        if req is None:
            return error(f"No request with id {wanted} is running here (it finished, or never started).", 404)
        req.cancel.set()
        return JSONResponse({"cancelled": wanted, "id": req.run_id}, status_code=202)

    async def guarded(self, handler: Any) -> Response:
        try:
            return await handler()
        except BadInput as err:
            return error(str(err), err.status, err.headers)


def _performance(ledger: Any, model_id: str | None, task_type: str | None) -> dict[str, Any]:
    """On the ledger thread: the per-model table (× task type) and the trends of each period."""
    monitor = PerformanceMonitor(ledger)
    rows = monitor.table(task_type)
    if model_id is not None:
        rows = [r for r in rows if r["model"] == model_id]
    trends = {name: monitor.trends(model_id, period, task_type) for name, period in TRENDS.items()}
    out: dict[str, Any] = {"task_type": task_type, "performance": rows, "trends": trends}
    if model_id is not None:
        out["model"] = model_id
    else:
        out["leaderboard"] = monitor.leaderboard(task_type, rounds=300)
    return out


def design_routes(engine: Engine, gateway: Gateway | None = None) -> list[BaseRoute]:
    """What app/serve/server.py mounts beside the OpenAI and Ollama APIs (sharing their ``gateway``)."""
    return DesignApi(engine, gateway).routes()
