"""A stand-in for `python -m vllm.entrypoints.openai.api_server`, on PYTHONPATH only in tests: it takes vLLM's flags,
serves /health, /v1/models (with vLLM's `max_model_len` and a LoRA entry's `parent`) and /v1/chat/completions
(plain and streamed), and answers only the names it was started with, as vLLM does. Its reply names the model it
was asked for, so a test sees which one a request was routed to.

FAKE_VLLM_DIE_AFTER=S makes it exit with code 3 S seconds after it is ready (a crash under load);
FAKE_VLLM_FAIL=1 makes it exit before it is ready, with a last line as vLLM's own errors end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name")
    parser.add_argument("--enable-lora", action="store_true")
    parser.add_argument("--lora-modules", action="append", default=[])
    parser.add_argument("--max-lora-rank", type=int)
    parser.add_argument("--chat-template")
    parser.add_argument("--tensor-parallel-size", type=int)
    parser.add_argument("--max-model-len", type=int, default=1024)
    args, _ = parser.parse_known_args()
    print(f"fake vLLM: {' '.join(sys.argv[1:])}", flush=True)
    if os.environ.get("FAKE_VLLM_FAIL"):
        print("RuntimeError: Unsupported CPU attention configuration: head_dim=16", flush=True)
        sys.exit(1)
    base = args.served_model_name or args.model
    models = [
        {"id": base, "object": "model", "owned_by": "vllm", "root": args.model, "max_model_len": args.max_model_len}
    ]
    for module in args.lora_modules:
        name, _, path = module.partition("=")
        models.append(
            {"id": name, "object": "model", "owned_by": "vllm", "root": path, "parent": base, "max_model_len": None}
        )
    names = {m["id"] for m in models}
    calls: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": models})
            elif self.path == "/calls":
                self._json(200, {"calls": calls})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            calls.append(body)
            if body.get("model") not in names:
                self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}})
                return
            text = f"answered by {body['model']}"
            usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
            if not body.get("stream"):
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                self._json(
                    200,
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": 1,
                        "model": body["model"],
                        "choices": [choice],
                        "usage": usage,
                    },
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, word in enumerate(text.split(" ")):
                delta = {"content": (" " if i else "") + word}
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            last = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": usage,
            }
            self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    die = os.environ.get("FAKE_VLLM_DIE_AFTER")
    if die:

        def crash() -> None:
            time.sleep(float(die))
            print("fake vLLM: engine core died", flush=True)
            os._exit(3)

        threading.Thread(target=crash, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
