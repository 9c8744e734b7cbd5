"""The OpenAI-compatible server of a deployment: POST /v1/chat/completions (plain and SSE), GET /v1/models, /health.

Waiting is done on the event loop, never in worker threads: a local model answers one request at a time behind
an asyncio semaphore, so fifty queued requests hold no threads, and a stream that is being written always finds
one. Every request logs one line with its latency split; the Authorization header and the prompt never appear
in it (the prompt does with `log_prompts`).

`create_app` runs in stages, each below it in this order: read the API key, load the deployment into an `Engine`
(tools/serving/engine.py: retrieval and the context budget), hold what every request shares in a `Server` (the
log line, the key check, the body cap, the model's slots), add the routes, and stream a reply (`StreamedReply`).
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
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from tools.errors import UsageError
from tools.serving import clients, protocol
from tools.serving.engine import Engine, Turn
from tools.serving.protocol import ApiError, Limits

log = logging.getLogger("tunewise.serve")
UPSTREAM_CONCURRENCY = 16  # requests in flight to an upstream endpoint; it batches them on its side


def create_app(
    deployment_dir: str | Path,
    *,
    api_key_env: str | None = None,
    log_prompts: bool = False,
    limits: Limits | None = None,
    generator: clients.Generator,
    retriever: clients.Retriever,
    upstream: bool | None = None,
) -> FastAPI:
    """Build the FastAPI app serving the deployment in `deployment_dir` with `generator` and `retriever`
    (`tools.builders.deployment_clients(DIR)` builds the deployment's own). `upstream` says generation happens on
    another server (vLLM, an OpenAI-compatible endpoint): default, when the deployment's model is such an endpoint.

    The key is read from the environment variable `api_key_env` here, once, so it never passes through a command
    line; requests must then send it as `Authorization: Bearer KEY`.
    """
    key = api_key(api_key_env)
    engine = load_engine(Path(deployment_dir), generator, retriever, upstream=upstream)
    created = int(Path(deployment_dir, "deployment.json").stat().st_mtime)
    server = Server(engine, limits or Limits(), key=key, log_prompts=log_prompts, created=created)
    app = FastAPI(title=f"tunewise: {server.name}", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    add_routes(app, server)
    return app


# ---- stage 1: the API key --------------------------------------------------------------------------------------


def api_key(env: str | None) -> str | None:
    """Return the key requests must send, read from the environment variable `env`; None when no key is asked."""
    if not env:
        return None
    key = os.environ.get(env, "")
    if not key:
        raise UsageError(
            f"the environment variable {env} is empty or not set",
            hint=f"export {env}=... with the key clients will send as a Bearer token",
        )
    return key


# ---- stage 2: the deployment, loaded and warmed up -------------------------------------------------------------


def load_engine(
    folder: Path, generator: clients.Generator, retriever: clients.Retriever, *, upstream: bool | None = None
) -> Engine:
    """Load the deployment in `folder`, wrap it with the given generator and retriever, and run one request's path."""
    from tools.deploy.deploy import load_deployment

    deployment = load_deployment(folder)
    for note in retriever.notes:
        log.warning("note: %s", note)
    remote = deployment.model.kind == "openai" if upstream is None else upstream
    engine = Engine(deployment, generator, retriever, upstream=remote)
    engine.warm_up()
    return engine


# ---- stage 3: what every request shares ------------------------------------------------------------------------


class Server:
    """One served deployment: its model card, the request log line, the key check, the body cap and the slots."""

    def __init__(self, engine: Engine, limits: Limits, *, key: str | None, log_prompts: bool, created: int) -> None:
        self.engine, self.limits, self.key, self.log_prompts = engine, limits, key, log_prompts
        deployment = engine.deployment
        self.name, self.fingerprint = deployment.name, f"tw_{deployment.content_hash[:12]}"
        self.slots = asyncio.Semaphore(UPSTREAM_CONCURRENCY if engine.upstream else 1)
        self.card = {"id": self.name, "object": "model", "created": created, "owned_by": "tunewise"}

    def health(self) -> dict[str, Any]:
        """Return /health's body: the model, its kind and content hash, and the retrieval settings."""
        deployment = self.engine.deployment
        return {
            "status": "ok",
            "model": self.name,
            "kind": deployment.model.kind,
            "content_hash": deployment.content_hash,
            "collection": deployment.retrieval.collection,
            "k": deployment.retrieval.k,
        }

    def line(self, request: Request, status: int, started: float, turn: Turn | None = None, **extra: Any) -> None:
        """Log the request's one line: method, path, status and latency, then the turn's split and `extra`."""
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
        if self.log_prompts and turn is not None and turn.question:
            parts.append(f"prompt={turn.question!r}")
        log.info(" ".join(parts))

    def error(self, request: Request, exc: ApiError, started: float, turn: Turn | None = None) -> JSONResponse:
        """Log the failed request and answer it in OpenAI's error shape."""
        self.line(request, exc.status, started, turn, error=exc.code or exc.type)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    def authorize(self, request: Request) -> None:
        """Refuse a request without the key, when the server has one."""
        if self.key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest takes as long whatever the mismatch: the answer's timing says nothing about the key.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.key.encode()):
            raise ApiError(
                401, "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'.", code="invalid_api_key"
            )

    def check_model(self, model: str) -> None:
        """Refuse a request for a model this server does not serve, as OpenAI does."""
        if model != self.name:
            raise ApiError(
                404,
                f"The model '{model}' does not exist; this server serves '{self.name}'.",
                param="model",
                code="model_not_found",
            )

    async def body(self, request: Request) -> bytes:
        """Read the request body, refusing one over the limit before (when declared) or while it is read."""
        cap = self.limits.max_request_bytes
        declared = request.headers.get("content-length")
        too_big = ApiError(413, f"the request body is larger than this server's {cap} bytes", code="request_too_large")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise too_big  # refused before reading a byte of it
        data = bytearray()
        async for part in request.stream():
            data += part
            if len(data) > cap:
                raise too_big
        return bytes(data)

    async def chat(self, request: Request) -> JSONResponse | StreamingResponse | dict[str, Any]:
        """Answer one chat completion: check it, retrieve its passages, then reply whole or as a stream."""
        engine = self.engine
        started, turn = time.perf_counter(), None
        try:
            self.authorize(request)
            parsed = protocol.parse_request(await self.body(request), self.limits)
            self.check_model(parsed.model)
            turn = Turn(request=parsed, max_tokens=parsed.token_budget(self.limits), stops=parsed.stops())
            await run_in_threadpool(engine.retrieve, turn)
            if parsed.stream:
                return await self.stream(request, turn, started)
            async with self.slots:
                text, finish, usage = await run_in_threadpool(engine.generate, turn)
        except ApiError as exc:
            return self.error(request, exc, started, turn)
        except Exception as exc:  # a bug, not bad input: a one-line 500, the traceback only when prompts may be logged
            if self.log_prompts:
                log.error("".join(traceback.format_exception(exc)))
            return self.error(
                request, ApiError(500, f"internal error ({type(exc).__name__})", type="server_error"), started, turn
            )
        self.line(
            request,
            200,
            started,
            turn,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )
        return protocol.completion(
            protocol.completion_id(), self.name, self.fingerprint, text, finish, usage, turn.extension()
        )

    async def stream(self, request: Request, turn: Turn, started: float) -> StreamingResponse:
        """Start the model under a slot and hand the rest to an SSE response that gives the slot back at its end."""
        await self.slots.acquire()
        usage: dict = {}
        try:
            pieces, first = await run_in_threadpool(self.engine.start_stream, turn, usage)
        except BaseException:
            self.slots.release()
            raise
        reply = StreamedReply(self, request, turn, started, pieces, first, usage)
        return _ClosingStream(
            reply.events(),
            on_close=reply.close,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Request-Id": uuid.uuid4().hex},
        )


# ---- stage 4: the routes ---------------------------------------------------------------------------------------


def add_routes(app: FastAPI, server: Server) -> None:
    """Add /health, /v1/models, /v1/models/{id} and /v1/chat/completions, and OpenAI-shaped errors for the rest."""

    @app.exception_handler(HTTPException)  # unknown routes and methods, OpenAI-shaped
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        text = "Invalid URL" if exc.status_code == 404 else str(exc.detail)
        return server.error(
            request, ApiError(exc.status_code, f"{text} ({request.method} {request.url.path})"), time.perf_counter()
        )

    # response_model=None on every route: the return annotations are for mypy, and FastAPI would otherwise
    # validate and re-serialise each reply through a model built from them.
    @app.get("/health", response_model=None)
    async def health(request: Request) -> dict[str, Any]:
        server.line(request, 200, time.perf_counter())
        return server.health()

    @app.get("/v1/models", response_model=None)
    async def models(request: Request) -> JSONResponse | dict[str, Any]:
        started = time.perf_counter()
        try:
            server.authorize(request)
        except ApiError as exc:
            return server.error(request, exc, started)
        server.line(request, 200, started)
        return {"object": "list", "data": [server.card]}

    @app.get("/v1/models/{model_id:path}", response_model=None)
    async def model(request: Request, model_id: str) -> JSONResponse | dict[str, Any]:
        started = time.perf_counter()
        try:
            server.authorize(request)
            server.check_model(model_id)
        except ApiError as exc:
            return server.error(request, exc, started)
        server.line(request, 200, started)
        return server.card

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse | dict[str, Any]:
        return await server.chat(request)


# ---- stage 5: a streamed reply ---------------------------------------------------------------------------------


class StreamedReply:
    """A reply streamed as SSE while it holds the model's slot: its events, then the model stopped, the slot given
    back and the request's line logged, each exactly once, however the stream ends.
    """

    def __init__(
        self,
        server: Server,
        request: Request,
        turn: Turn,
        started: float,
        pieces: clients.Pieces,
        first: str | None,
        usage: dict,
    ) -> None:
        self.server, self.request, self.turn, self.started = server, request, turn, started
        self.pieces, self.first, self.usage = pieces, first, usage
        self.status = 200
        self.counts: dict | None = None  # the usage once counted: the stream reached its end
        self.stopped = self.released = False
        self.cid = protocol.completion_id()

    def _chunk(self, delta: dict | None, finish: str | None = None, **extra: Any) -> bytes:
        return protocol.sse(protocol.chunk(self.cid, self.server.name, self.server.fingerprint, delta, finish, **extra))

    async def events(self) -> AsyncIterator[bytes]:
        """Yield the reply's SSE events: the role, the text cut at any stop sequence, the finish, usage and [DONE]."""
        engine, turn, usage = self.server.engine, self.turn, self.usage
        cutter = protocol.StopCutter(turn.stops)
        sent, piece = [], self.first
        yield self._chunk({"role": "assistant", "content": ""})
        try:
            while piece is not None and not cutter.hit:
                if text := cutter.feed(piece):
                    sent.append(text)
                    yield self._chunk({"content": text})
                if not cutter.hit:
                    piece = await run_in_threadpool(engine.next_piece, self.pieces)
            if tail := cutter.flush():
                sent.append(tail)
                yield self._chunk({"content": tail})
        except ApiError as exc:  # the status line has gone out: OpenAI's clients read an error event instead
            self.status = exc.status
            yield protocol.sse(exc.body())
            return
        await self.stop_model()
        counts = await run_in_threadpool(engine.finish_stream, turn, usage, "".join(sent))
        self.counts = counts
        self.release()  # after counting: the count may use the model's tokenizer, which is the next request's now
        finish = "stop" if cutter.hit else usage.get("finish_reason", "stop")
        extension: dict[str, Any] = {"tunewise": turn.extension()}
        if turn.request.stream_options and turn.request.stream_options.include_usage:
            yield self._chunk({}, finish)
            yield self._chunk(None, usage=counts, **extension)
        else:
            yield self._chunk({}, finish, **extension)
        yield b"data: [DONE]\n\n"

    async def stop_model(self) -> None:
        """Close the model's stream: it stops at its next token if the reply was cut."""
        if not self.stopped:
            self.stopped = True
            await run_in_threadpool(self.pieces.close)

    def release(self) -> None:
        """Give the model's slot back to the next request."""
        if not self.released:
            self.released = True
            self.server.slots.release()

    async def close(self) -> None:
        """End the reply however the stream ended: the model stopped, the slot back, the request's line logged."""
        await self.stop_model()
        self.release()
        counts = self.counts or {}
        self.server.line(
            self.request,
            self.status,
            self.started,
            self.turn,
            prompt_tokens=counts.get("prompt_tokens"),
            completion_tokens=counts.get("completion_tokens"),
            disconnected=None if self.counts is not None or self.status != 200 else "true",
        )


class _ClosingStream(StreamingResponse):
    """A streaming response that runs `on_close` at its end, shielded from cancellation."""

    def __init__(
        self, content: AsyncIterator[bytes], *, on_close: Callable[[], Awaitable[None]], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import anyio

        try:
            await super().__call__(scope, receive, send)
        finally:  # also when the client left before the body began: the slot must come back
            with anyio.CancelScope(shield=True):
                await self.on_close()
