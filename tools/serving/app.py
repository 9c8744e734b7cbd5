"""The OpenAI-compatible server of a deployment: POST /v1/chat/completions (plain and SSE), GET /v1/models, /health.

Waiting is done on the event loop, never in worker threads: a local model answers one request at a time behind
an asyncio semaphore, so fifty queued requests hold no threads, and a stream that is being written always finds
one. Every request logs one line with its latency split; the Authorization header and the prompt never appear
in it (the prompt does with `log_prompts`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from tools.errors import TunewiseError
from tools.serving import protocol
from tools.serving.engine import Engine, Turn
from tools.serving.protocol import ApiError, Limits

log = logging.getLogger("tunewise.serve")
UPSTREAM_CONCURRENCY = 16  # requests in flight to an upstream endpoint; it batches them on its side


def _build_engine(folder: Path, generator: Any, retriever: Any) -> Engine:
    """Load the deployment in `folder` and wrap it with the given generator and retriever."""
    from tools.deploy.deploy import load_deployment

    deployment = load_deployment(folder)
    for note in getattr(retriever, "notes", []):
        log.warning("note: %s", note)
    return Engine(deployment, generator, retriever, upstream=deployment.model.kind == "openai")


def create_app(
    deployment_dir: str | Path,
    *,
    api_key_env: str | None = None,
    log_prompts: bool = False,
    limits: Limits | None = None,
    generator: Any,
    retriever: Any,
) -> FastAPI:
    """Build the FastAPI app serving the deployment in `deployment_dir` with `generator` and `retriever`
    (`tools.builders.deployment_clients(DIR)` builds the deployment's own).

    The key is read from the environment variable `api_key_env` here, once, so it never passes through a command
    line; requests must then send it as `Authorization: Bearer KEY`.
    """
    key = None
    if api_key_env:
        key = os.environ.get(api_key_env, "")
        if not key:
            raise TunewiseError(
                f"the environment variable {api_key_env} is empty or not set",
                exit_code=2,
                hint=f"export {api_key_env}=... with the key clients will send as a Bearer token",
            )
    limits = limits or Limits()
    engine = _build_engine(Path(deployment_dir), generator, retriever)
    engine.warm_up()
    deployment = engine.deployment
    name, fingerprint = deployment.name, f"tw_{deployment.content_hash[:12]}"
    slots = asyncio.Semaphore(UPSTREAM_CONCURRENCY if engine.upstream else 1)

    app = FastAPI(title=f"tunewise: {name}", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine

    def line(request: Request, status: int, started: float, turn: Turn | None = None, **extra: Any) -> None:
        parts = [
            request.method,
            request.url.path,
            str(status),
            f"total_ms={(time.perf_counter() - started) * 1000:.1f}",
        ]
        if turn is not None:
            parts += [
                f"retrieval_ms={turn.retrieval_ms:.1f}",
                f"generation_ms={turn.generation_ms:.1f}",
                f"sources={len(turn.hits)}",
                f"dropped={turn.dropped}",
                f"stream={str(turn.request.stream).lower()}",
            ]
        parts += [f"{k}={v}" for k, v in extra.items() if v is not None]
        if log_prompts and turn is not None and turn.question:
            parts.append(f"prompt={turn.question!r}")
        log.info(" ".join(parts))

    def error(request: Request, exc: ApiError, started: float, turn: Turn | None = None) -> JSONResponse:
        line(request, exc.status, started, turn, error=exc.code or exc.type)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    def authorize(request: Request) -> None:
        if key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest takes as long whatever the mismatch: the answer's timing says nothing about the key.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise ApiError(
                401, "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'.", code="invalid_api_key"
            )

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        too_big = ApiError(
            413,
            f"the request body is larger than this server's {limits.max_request_bytes} bytes",
            code="request_too_large",
        )
        if declared is not None and declared.isdigit() and int(declared) > limits.max_request_bytes:
            raise too_big  # refused before reading a byte of it
        data = bytearray()
        async for part in request.stream():
            data += part
            if len(data) > limits.max_request_bytes:
                raise too_big
        return bytes(data)

    card = {
        "id": name,
        "object": "model",
        "created": int(Path(deployment_dir, "deployment.json").stat().st_mtime),
        "owned_by": "tunewise",
    }

    @app.exception_handler(HTTPException)  # unknown routes and methods, OpenAI-shaped
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        text = "Invalid URL" if exc.status_code == 404 else str(exc.detail)
        return error(
            request, ApiError(exc.status_code, f"{text} ({request.method} {request.url.path})"), time.perf_counter()
        )

    # response_model=None on every route: the return annotations are for mypy, and FastAPI would otherwise
    # validate and re-serialise each reply through a model built from them.
    @app.get("/health", response_model=None)
    async def health(request: Request) -> dict[str, Any]:
        line(request, 200, time.perf_counter())
        return {
            "status": "ok",
            "model": name,
            "kind": deployment.model.kind,
            "content_hash": deployment.content_hash,
            "collection": deployment.retrieval.collection,
            "k": deployment.retrieval.k,
        }

    @app.get("/v1/models", response_model=None)
    async def models(request: Request) -> JSONResponse | dict[str, Any]:
        started = time.perf_counter()
        try:
            authorize(request)
        except ApiError as exc:
            return error(request, exc, started)
        line(request, 200, started)
        return {"object": "list", "data": [card]}

    @app.get("/v1/models/{model_id:path}", response_model=None)
    async def model(request: Request, model_id: str) -> JSONResponse | dict[str, Any]:
        started = time.perf_counter()
        try:
            authorize(request)
            if model_id != name:
                raise ApiError(
                    404,
                    f"The model '{model_id}' does not exist; this server serves '{name}'.",
                    param="model",
                    code="model_not_found",
                )
        except ApiError as exc:
            return error(request, exc, started)
        line(request, 200, started)
        return card

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse | dict[str, Any]:
        started, turn = time.perf_counter(), None
        try:
            authorize(request)
            parsed = protocol.parse_request(await body(request), limits)
            if parsed.model != name:
                raise ApiError(
                    404,
                    f"The model '{parsed.model}' does not exist; this server serves '{name}'.",
                    param="model",
                    code="model_not_found",
                )
            turn = Turn(request=parsed, max_tokens=parsed.token_budget(limits), stops=parsed.stops())
            await run_in_threadpool(engine.retrieve, turn)
            if parsed.stream:
                return await stream(request, turn, started)
            async with slots:
                text, finish, usage = await run_in_threadpool(engine.generate, turn)
        except ApiError as exc:
            return error(request, exc, started, turn)
        except Exception as exc:  # a bug, not bad input: a one-line 500, the traceback only when prompts may be logged
            if log_prompts:
                log.error("".join(traceback.format_exception(exc)))
            return error(
                request, ApiError(500, f"internal error ({type(exc).__name__})", type="server_error"), started, turn
            )
        line(
            request,
            200,
            started,
            turn,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )
        return protocol.completion(protocol.completion_id(), name, fingerprint, text, finish, usage, turn.extension())

    async def stream(request: Request, turn: Turn, started: float) -> StreamingResponse:
        """Start the model under a slot and hand the rest to an SSE response that gives the slot back at its end."""
        await slots.acquire()
        usage: dict = {}
        try:
            pieces, first = await run_in_threadpool(engine.start_stream, turn, usage)
        except BaseException:
            slots.release()
            raise
        state: dict[str, Any] = {"status": 200, "stopped": False, "released": False}
        cid = protocol.completion_id()

        async def events() -> AsyncIterator[bytes]:
            cutter = protocol.StopCutter(turn.stops)
            sent, piece = [], first
            yield protocol.sse(protocol.chunk(cid, name, fingerprint, {"role": "assistant", "content": ""}))
            try:
                while piece is not None and not cutter.hit:
                    if text := cutter.feed(piece):
                        sent.append(text)
                        yield protocol.sse(protocol.chunk(cid, name, fingerprint, {"content": text}))
                    if not cutter.hit:
                        piece = await run_in_threadpool(engine.next_piece, pieces)
                if tail := cutter.flush():
                    sent.append(tail)
                    yield protocol.sse(protocol.chunk(cid, name, fingerprint, {"content": tail}))
            except ApiError as exc:  # the status line has gone out: OpenAI's clients read an error event instead
                state["status"] = exc.status
                yield protocol.sse(exc.body())
                return
            await stop_model()
            counts = await run_in_threadpool(engine.finish_stream, turn, usage, "".join(sent))
            state["usage"] = counts
            release()  # after counting: the count may use the model's tokenizer, which is the next request's now
            finish = "stop" if cutter.hit else usage.get("finish_reason", "stop")
            extension: dict[str, Any] = {"tunewise": turn.extension()}
            if turn.request.stream_options and turn.request.stream_options.include_usage:
                yield protocol.sse(protocol.chunk(cid, name, fingerprint, {}, finish))
                yield protocol.sse(protocol.chunk(cid, name, fingerprint, None, usage=counts, **extension))
            else:
                yield protocol.sse(protocol.chunk(cid, name, fingerprint, {}, finish, **extension))
            yield b"data: [DONE]\n\n"

        async def stop_model() -> None:
            if not state["stopped"]:
                state["stopped"] = True
                await run_in_threadpool(pieces.close)  # stops the model at its next token if the reply was cut

        def release() -> None:
            if not state["released"]:
                state["released"] = True
                slots.release()

        class _Stream(StreamingResponse):
            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                import anyio

                try:
                    await super().__call__(scope, receive, send)
                finally:  # also when the client left before the body began: the slot must come back
                    with anyio.CancelScope(shield=True):
                        await stop_model()
                        release()
                        counts = state.get("usage", {})
                        line(
                            request,
                            state["status"],
                            started,
                            turn,
                            prompt_tokens=counts.get("prompt_tokens"),
                            completion_tokens=counts.get("completion_tokens"),
                            disconnected=None if "usage" in state or state["status"] != 200 else "true",
                        )

        return _Stream(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Request-Id": uuid.uuid4().hex},
        )

    return app
