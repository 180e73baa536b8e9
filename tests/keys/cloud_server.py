"""A loopback OpenAI-compatible endpoint that checks the bearer key: accepted, revoked (401) or rate
limited (429 with Retry-After), switchable while a test runs. Its 401 body echoes the key, as
OpenAI's does ("Incorrect API key provided: sk-...") - a trap for anything that logs error bodies."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = "pong"


class CloudServer:
    def __init__(self) -> None:
        #: key -> "ok" | "revoked" (401) | "forbidden" (403) | "limited" (429); an unknown key is rejected.
        self.keys: dict[str, str] = {}
        self.retry_after = "30"
        #: Every key that reached the server, in order.
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> CloudServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: pytest shows failures, not access logs
                pass

            def _key(self) -> str:
                auth = self.headers.get("Authorization", "")
                return auth.removeprefix("Bearer ").strip()

            def _json(self, status: int, doc: dict, headers: dict | None = None) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self, key: str) -> bool:
                with server._lock:
                    server.seen.append(key)
                    state = server.keys.get(key, "revoked")
                if state == "revoked":
                    self._json(
                        401,
                        {
                            "error": {
                                "message": f"Incorrect API key provided: {key}. Find yours in your account.",
                                "type": "invalid_request_error",
                                "param": None,
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return True
                if state == "forbidden":
                    doc = {
                        "error": {"message": "You may not use this model.", "type": "invalid_request_error"}
                    }
                    self._json(403, doc)
                    return True
                if state == "limited":
                    self._json(
                        429,
                        {"error": {"message": "Rate limit reached.", "type": "requests", "code": None}},
                        {"Retry-After": server.retry_after},
                    )
                    return True
                return False

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self._refuse(self._key()):
                    return
                self._json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                if self._refuse(self._key()):
                    return
                model = req.get("model", "gpt-4o-mini")
                usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
                if not req.get("stream"):
                    self._json(
                        200,
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": model,
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": ANSWER},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": usage,
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def chunk(choices: list, **extra) -> None:
                    doc = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                    }
                    self.wfile.write(f"data: {json.dumps({**doc, 'choices': choices, **extra})}\n\n".encode())

                chunk(
                    [{"index": 0, "delta": {"role": "assistant", "content": ANSWER}, "finish_reason": None}]
                )
                chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
                chunk([], usage=usage)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler
