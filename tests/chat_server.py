"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for the judge tests.

A scripted judge behind ``ThreadingHTTPServer``: shared by the judge tests and the paper path's
workflow test, which points the ``openai`` judge at it.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "sk-test-SECRET-4f9c2a7e1b"
ENV = "OVEROPT_TEST_JUDGE_KEY"
MODEL = "judge-test-model"
HANG_S = 4.0  # a "hang" outlasts HANG_TIMEOUT_S, the client timeout of the tests that inject one
HANG_TIMEOUT_S = 1.0
_PROMPT = re.compile(r"Post:\n(.*?)\n\nSummary A:\n(.*?)\n\nSummary B:\n(.*?)\n\nFIRST", re.DOTALL)


class ChatServer:
    """A chat-completions server on 127.0.0.1 with a scripted judge and injectable faults.

    Policy: prefers the summary containing GOOD (else the longer one); a post containing
    RAMBLE gets an answer with no ``Preferred:`` line; DOWN always gets HTTP 500; BAD gets 400.
    ``faults[post]`` lists faults served, in order, before that post is answered normally.
    """

    def __init__(self, faults: dict[str, list[str]] | None = None) -> None:
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, post: str, a: str, b: str) -> str:
        if "RAMBLE" in post:
            return "Both summaries are fine; I cannot decide."
        if ("GOOD" in a) != ("GOOD" in b):
            pick = "A" if "GOOD" in a else "B"
        else:
            pick = "A" if len(a) >= len(b) else "B"
        return f"Comparison: Summary {pick} covers the key point.\nPreferred: {pick}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, code: int, body: bytes | dict) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {KEY}":  # echoes the key, as real APIs do
                    msg = f"Incorrect API key provided: {auth.removeprefix('Bearer ')}"
                    return self._send(401, {"error": {"message": msg}})
                req = json.loads(raw)
                assert req["model"] == MODEL and req["temperature"] == 0
                post, a, b = _PROMPT.search(req["messages"][-1]["content"]).groups()
                with server.lock:
                    queue = server.faults.get(post, [])
                    fault = queue.pop(0) if queue else None
                    fault = "500" if "DOWN" in post else "400" if "BAD" in post else fault
                    server.seen.append({"post": post, "a": a, "b": b, "fault": fault})
                if fault in ("429", "500", "400"):
                    return self._send(int(fault), {"error": {"message": f"fault {fault}"}})
                if fault == "hang":
                    time.sleep(HANG_S)
                    with contextlib.suppress(OSError):  # the client has given up
                        self._send(200, {"choices": []})
                    return None
                if fault == "malformed":
                    return self._send(200, b'{"choices": [ this is not json')
                if fault == "nochoices":
                    return self._send(200, {"id": "x", "object": "chat.completion", "choices": []})
                content = server.answer(post, a, b)
                return self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.seen)}",
                        "object": "chat.completion",
                        "model": MODEL,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 100,
                            "completion_tokens": 12,
                            "total_tokens": 112,
                        },
                    },
                )

        return Handler
