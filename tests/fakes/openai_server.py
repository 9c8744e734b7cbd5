"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI REST API for the real `openai` client.

    with FakeOpenAI(step_seconds=0.05) as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url)

or the `openai_server` pytest fixture, which also points OPENAI_BASE_URL and OPENAI_API_KEY at it. Covers files,
fine-tuning jobs (clock-driven states, events, checkpoints), chat completions (scripted, plain or SSE), models and
embeddings, with fault switches: `fail` (an error status on the Nth matching call), `hang` (process the request,
then never answer, so the client times out) and `refuse_create` (job creation refused as OpenAI refuses it).
Every request is recorded with the Authorization value removed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.openai_chat import ChatResponder, embeddings
from tests.fakes.openai_finetune import ApiError, FineTuneState, JobScript, page, parse_metadata_filter

FAKE_API_KEY = "sk-fake-TUNEWISE-key-0123456789abcdefDONOTLEAK"
BASE_MODELS = ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small")

# The bodies OpenAI sends when it will not create a job; `refuse_create(kind)` picks one.
REFUSALS = {
    "model_not_available": (
        400,
        "invalid_request_error",
        "model_not_available",
        "model",
        "Model {model} is not available for fine-tuning or does not exist.",
    ),
    "permission": (
        403,
        "invalid_request_error",
        "permission_denied",
        None,
        "You do not have access to fine-tuning. New fine-tuning jobs are no longer available to this organization.",
    ),
    "deprecated": (
        400,
        "invalid_request_error",
        "model_deprecated",
        "model",
        "Fine-tuning {model} is deprecated and no longer accepts new jobs.",
    ),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names; the authorization value is replaced by "<redacted>"
    body: Any  # parsed JSON, a dict of multipart fields, or raw bytes


@dataclass
class _Fault:
    method: str
    path: re.Pattern
    kind: str  # "status" or "hang"
    on_call: int
    times: int
    status: int = 500
    retry_after: float | None = None
    commit: bool = True
    seen: int = field(default=0)

    def hit(self, method: str, path: str) -> bool:
        if method != self.method or not self.path.fullmatch(path):
            return False
        self.seen += 1
        return self.on_call <= self.seen < self.on_call + self.times


class FakeOpenAI:
    """The fake server; start it with `with FakeOpenAI() as server:` or `start()`/`stop()`."""

    def __init__(
        self,
        *,
        step_seconds: float = 0.05,
        api_key: str | None = None,
        embedding_dimensions: int = 64,
        clock: Callable[[], float] = time.time,
        hang_seconds: float = 30.0,
        wire: tuple[str, ...] = (),
        served: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """`wire` makes the fine-tuning answers differ from OpenAI's as compatible servers do (see WIRE); `served`
        adds models to /v1/models with extra fields, as vLLM lists them ({"bot": {"parent": "base",
        "max_model_len": None}, "base": {"max_model_len": 4096}}).
        """
        unknown = set(wire) - set(WIRE)
        if unknown:
            raise ValueError(f"wire takes {sorted(WIRE)}, not {sorted(unknown)}")
        self.wire = tuple(wire)
        self.served = dict(served or {})
        self.finetune = FineTuneState(step_seconds=step_seconds, clock=clock)
        self.chat = ChatResponder()
        self.api_key = api_key
        self.embedding_dimensions = embedding_dimensions
        self.hang_seconds = hang_seconds
        self.requests: list[RecordedRequest] = []
        self.refusal: tuple[str, str | None] | None = None
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- switches ------------------------------------------------------------------------------------------------

    @property
    def next_job(self) -> JobScript:
        return self.finetune.next_job

    @next_job.setter
    def next_job(self, script: JobScript) -> None:
        self.finetune.next_job = script

    def fail(
        self, method: str, path: str, status: int, *, on_call: int = 1, times: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the `on_call`-th matching request (and `times - 1` after it) with `status` in OpenAI's error shape.
        `path` is a regex matched against the whole path, e.g. r"/v1/fine_tuning/jobs"."""
        self._faults.append(_Fault(method.upper(), re.compile(path), "status", on_call, times, status, retry_after))

    def hang(self, method: str, path: str, *, on_call: int = 1, times: int = 1, commit: bool = True) -> None:
        """Never answer the matching call (until the server stops); with `commit` the request takes effect first,
        as when OpenAI creates a job and the response is lost."""
        self._faults.append(_Fault(method.upper(), re.compile(path), "hang", on_call, times, commit=commit))

    def refuse_create(self, kind: str | None = "model_not_available", message: str | None = None) -> None:
        """Refuse every job creation as OpenAI does (a key of REFUSALS); None lifts the refusal."""
        if kind is not None and kind not in REFUSALS:
            raise ValueError(f"kind must be one of {sorted(REFUSALS)}")
        self.refusal = (kind, message) if kind else None

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests whose method matches and whose path fully matches the regex `path`."""
        return [r for r in self.requests if r.method == method.upper() and re.fullmatch(path, r.path)]

    # -- request handling ----------------------------------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            hits = [f for f in self._faults if f.hit(method, path)]
        return hits[0] if hits else None

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """Route one request; returns (status, JSON object | bytes | an iterator of SSE chunks)."""
        status, answer = self._route(method, path, query, body)
        if self.wire and path.startswith("/v1/fine_tuning/") and isinstance(answer, dict):
            answer = _rewire(answer, self.wire)
        return status, answer

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        q = {k: v[-1] for k, v in query.items()}
        limit = int(q.get("limit", 20))
        ft = self.finetune
        if method == "POST" and path == "/v1/files":
            upload = body.get("file") if isinstance(body, dict) else None
            if not upload or not body.get("purpose"):
                raise ApiError(400, "'file' and 'purpose' are required", param="file")
            return 200, ft.add_file(upload["filename"], upload["content"], body["purpose"])
        if method == "GET" and path == "/v1/files":
            return 200, page(
                ft.list_files(q.get("purpose"), q.get("order", "desc")),
                after=q.get("after"),
                limit=int(q.get("limit", 10000)),
            )
        if m := re.fullmatch(r"/v1/files/([\w-]+)", path):
            return 200, ft.get_file(m[1]) if method == "GET" else ft.delete_file(m[1])
        if m := re.fullmatch(r"/v1/files/([\w-]+)/content", path):
            ft.get_file(m[1])
            return 200, ft.contents[m[1]]
        if method == "POST" and path == "/v1/fine_tuning/jobs":
            if self.refusal:
                status, type_, code, param, text = REFUSALS[self.refusal[0]]
                raise ApiError(
                    status,
                    (self.refusal[1] or text).format(model=body.get("model")),
                    type=type_,
                    code=code,
                    param=param,
                )
            return 200, ft.create_job(body)
        if method == "GET" and path == "/v1/fine_tuning/jobs":
            return 200, page(ft.list_jobs(parse_metadata_filter(query)), after=q.get("after"), limit=limit)
        if m := re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(/cancel|/events|/checkpoints)?", path):
            action = m[2] or ""
            if action == "/cancel" and method == "POST":
                return 200, ft.cancel_job(m[1])
            if action == "/events":
                return 200, page(ft.events(m[1]), after=q.get("after"), limit=limit)
            if action == "/checkpoints":
                return 200, page(ft.checkpoints(m[1]), after=q.get("after"), limit=int(q.get("limit", 10)))
            if not action and method == "GET":
                return 200, ft.get_job(m[1])
        if method == "POST" and path == "/v1/chat/completions":
            if body.get("stream"):
                return 200, self.chat.stream(body)
            return 200, self.chat.completion(body)
        if method == "POST" and path == "/v1/embeddings":
            return 200, embeddings(body, self.embedding_dimensions)
        if method == "GET" and (m := re.fullmatch(r"/v1/models(?:/(.+))?", path)):
            models = [
                {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"} for name in BASE_MODELS
            ]
            models += [
                {
                    "id": j["fine_tuned_model"],
                    "object": "model",
                    "created": j["finished_at"],
                    "owned_by": "tunewise-fake",
                }
                for j in ft.list_jobs()
                if j["fine_tuned_model"]
            ]
            models += [
                {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "vllm", **extra}
                for name, extra in self.served.items()
            ]
            if m[1] is None:
                return 200, {"object": "list", "data": models}
            found = [x for x in models if x["id"] == m[1]]
            if not found:
                raise ApiError(
                    404, f"The model `{m[1]}` does not exist or you do not have access to it.", code="model_not_found"
                )
            return 200, found[0]
        raise ApiError(404, f"Invalid URL ({method} {path})")


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    msg = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[name] = {"filename": filename, "content": payload} if filename is not None else payload.decode()
    return fields


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet: pytest shows the recorded requests when a test needs them

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.fake
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            body: Any = _parse_multipart(ctype, raw)
        elif raw and "json" in ctype:
            body = json.loads(raw)
        else:
            body = raw
        headers = {k.lower(): ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.headers.items()}
        query = parse_qs(url.query, keep_blank_values=True)
        fake.requests.append(RecordedRequest(method, url.path, query, headers, body))

        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._json(401, ApiError(401, "You didn't provide an API key.").body)
        if fake.api_key is not None and auth[7:] != fake.api_key:
            return self._json(401, ApiError(401, "Incorrect API key provided.", code="invalid_api_key").body)
        fault = fake._fault_for(method, url.path)
        if fault is not None and fault.kind == "status":
            extra = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._json(fault.status, _fault_body(fault.status), extra)
        if fault is not None and not fault.commit:
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        try:
            status, payload = fake.handle(method, url.path, query, body)
        except ApiError as exc:
            return self._json(exc.status, exc.body)
        if fault is not None:  # a hang: the request took effect (or not), the answer never comes
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        if isinstance(payload, bytes):
            return self._send(status, payload, "application/octet-stream")
        if isinstance(payload, dict):
            return self._json(status, payload)
        self._sse(payload)

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", extra)

    def _send(self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{len(self.fake.requests)}")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, chunks: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


# How compatible fine-tuning servers (proxies, self-hosted gateways) have been seen to differ from OpenAI's wire format.
WIRE = {
    "float_times": "created_at / finished_at / estimated_finish as floats with a fraction (1796196786.38)",
    "extra_fields": "fields OpenAI does not send, on jobs and events",
    "missing_optional": "optional fields left out: method, hyperparameters, suffix, seed, integrations, event data",
    "no_status": "jobs without a status: unusable, nobody can tell whether the job is running",
}
_OPTIONAL = (
    "method",
    "hyperparameters",
    "user_provided_suffix",
    "seed",
    "integrations",
    "estimated_finish",
    "result_files",
    "organization_id",
    "data",
    "type",
)


def _rewire(obj: Any, wire: tuple[str, ...]) -> Any:
    if isinstance(obj, list):
        return [_rewire(x, wire) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _rewire(v, wire) if k == "data" and isinstance(v, list) else v for k, v in obj.items()}
    if out.get("object") not in ("fine_tuning.job", "fine_tuning.job.event"):
        return out
    if "float_times" in wire:
        for key in ("created_at", "finished_at", "estimated_finish"):
            if isinstance(out.get(key), int):
                out[key] = out[key] + 0.38
    if "extra_fields" in wire:
        out.update(x_gateway={"region": "eu-1", "shard": 7}, priority="normal")
    if "missing_optional" in wire:
        out = {k: v for k, v in out.items() if k not in _OPTIONAL}
    if "no_status" in wire and out["object"] == "fine_tuning.job":
        out.pop("status", None)
    return out


def _fault_body(status: int) -> dict[str, Any]:
    if status == 429:
        return ApiError(
            429, "Rate limit reached for requests. Please try again in 1s.", type="requests", code="rate_limit_exceeded"
        ).body
    if status >= 500:
        return ApiError(
            status, "The server had an error while processing your request. Sorry about that!", type="server_error"
        ).body
    return ApiError(status, f"Injected error {status}").body


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch):
    """A started FakeOpenAI with OPENAI_BASE_URL and OPENAI_API_KEY (FAKE_API_KEY) pointing at it."""
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
        yield server
