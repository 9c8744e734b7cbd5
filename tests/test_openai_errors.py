"""tools/openai_errors.py: every OpenAI client failure is one line with what was done, the status, the server's
words and a hint, and never an API key; checked with the real `openai` client against real HTTP servers."""

from __future__ import annotations

import json
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from tests.fakes.openai_server import FAKE_API_KEY, FakeOpenAI, openai_server  # noqa: F401
from tools.errors import TunewiseError
from tools.openai_errors import is_api_error, openai_error, scrub, translated

openai = pytest.importorskip("openai")

KEY = "sk-proj-CLIENT-KEY-0123456789abcdefghijDONOTLEAK"
OTHER_KEY = "sk-svcacct-SOME-OTHER-KEY-9876543210zyxwvuts"


class _Answer(BaseHTTPRequestHandler):
    """Answers every request with the server's `status` and `body`, as any OpenAI-compatible server might."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        status, body = self.server.answer  # type: ignore[attr-defined]
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def answering() -> Iterator[Any]:
    """A server that answers what the test sets with `answer(status, body)`; returns a client with KEY for it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    client = openai.OpenAI(api_key=KEY, base_url=f"http://127.0.0.1:{httpd.server_address[1]}/v1", max_retries=0)

    def answer(status: int, body: Any) -> Any:
        httpd.answer = (status, body)  # type: ignore[attr-defined]
        return client

    yield answer
    httpd.shutdown()


def _error(body: dict) -> dict:
    return {"error": {"type": "invalid_request_error", "param": None, "code": None, **body}}


def _caught(call: Any) -> BaseException:
    with pytest.raises(openai.OpenAIError) as info:
        call()
    return info.value


def _no_key(err: TunewiseError, *keys: str) -> None:
    """Neither the message nor the kept cause (as a traceback in a log would print it) holds a key."""
    shown = str(err) + "".join(traceback.format_exception(err))
    for key in keys:
        assert key not in shown


def test_a_rejected_key_says_what_was_done_the_status_and_to_check_the_key(answering) -> None:
    # A proxy that echoes the key it was sent, and another key for good measure.
    client = answering(
        401, _error({"message": f"Incorrect API key {KEY} (also {OTHER_KEY})", "code": "invalid_api_key"})
    )
    exc = _caught(client.models.list)
    err = openai_error(exc, "listing models", client=client)
    assert err.message.startswith("the endpoint rejected the API key while listing models (401 invalid_api_key)")
    assert "Incorrect API key" in err.message and "\n" not in err.message
    assert err.hint is not None and "OPENAI_API_KEY" in err.hint
    _no_key(err, KEY, OTHER_KEY, "CLIENT-KEY", "SOME-OTHER-KEY")


def test_the_fake_servers_401_through_translated_keeps_the_cause_without_the_key(openai_server) -> None:  # noqa: F811
    openai_server.api_key = "sk-the-server-wants-another-key"
    client = openai.OpenAI(api_key=FAKE_API_KEY, base_url=openai_server.base_url, max_retries=0)
    with pytest.raises(TunewiseError) as info:
        with translated("listing fine-tuning jobs", client=client):
            client.fine_tuning.jobs.list()
    err = info.value
    assert "rejected the API key while listing fine-tuning jobs (401 invalid_api_key)" in str(err)
    assert isinstance(err.__cause__, openai.AuthenticationError)  # the cause is kept, for a debugger or a log
    _no_key(err, FAKE_API_KEY)


def test_a_missing_model_points_at_the_model_name(answering) -> None:
    message = "The model `gpt-9` does not exist or you do not have access to it."
    client = answering(404, _error({"message": message, "code": "model_not_found", "param": "model"}))
    exc = _caught(lambda: client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}]))
    err = openai_error(exc, "generating with openai:gpt-9", client=client)
    assert str(err) == (
        "not found while generating with openai:gpt-9 (the endpoint answered 404 model_not_found): "
        f"{message} — check the model name"
    )
    told = openai_error(exc, "reading the answer", client=client, not_found="check TUNEWISE_LLM_MODEL")
    assert told.hint == "check TUNEWISE_LLM_MODEL"


def test_rate_limits_and_quota_get_their_own_hints(openai_server) -> None:  # noqa: F811
    openai_server.fail("GET", "/v1/models", 429)
    client = openai.OpenAI(api_key=FAKE_API_KEY, base_url=openai_server.base_url, max_retries=0)
    err = openai_error(_caught(client.models.list), "listing models", client=client)
    assert err.message.startswith("the endpoint answered 429 rate_limit_exceeded while listing models: Rate limit")
    assert err.hint is not None and "rate limit" in err.hint


def test_quota_and_server_errors(answering) -> None:
    quota = "You exceeded your current quota, please check your plan and billing details."
    client = answering(429, _error({"message": quota, "code": "insufficient_quota"}))
    err = openai_error(_caught(client.models.list), "listing models", client=client)
    assert quota in err.message and err.hint is not None and "quota" in err.hint and "billing" in err.hint
    client = answering(502, "<html><body>Bad gateway\n from the proxy</body></html>")  # not JSON: its text, one line
    err = openai_error(_caught(client.models.list), "listing models", client=client, who="the LLM endpoint")
    assert (
        err.message
        == "the LLM endpoint answered 502 while listing models: <html><body>Bad gateway from the proxy</body></html>"
    )
    assert err.hint is not None and "try again later" in err.hint


def test_cannot_reach_names_the_url_and_points_at_the_base_url() -> None:
    client = openai.OpenAI(api_key=KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)
    err = openai_error(_caught(client.models.list), "listing models", client=client, also="or use --llm offline")
    assert err.message.startswith("cannot reach the endpoint at http://127.0.0.1:9/v1/ while listing models: ")
    assert "refused" in err.message.lower()  # the socket's reason, not the SDK's bare "Connection error."
    assert err.hint == "check OPENAI_BASE_URL and the network; or use --llm offline"
    _no_key(err, KEY)


def test_a_timeout_says_so() -> None:
    with FakeOpenAI(hang_seconds=5) as server:
        server.hang("GET", "/v1/models")
        client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=0.3)
        err = openai_error(_caught(client.models.list), "listing models", client=client)
    assert err.message.startswith("the endpoint did not answer in time while listing models")
    assert err.hint is not None and "OPENAI_BASE_URL" in err.hint


def test_openai_is_named_for_api_openai_com() -> None:
    client = openai.OpenAI(api_key=KEY, base_url="https://api.openai.com/v1")
    assert (
        openai_error(openai.OpenAIError("x"), "doing it", client=client).message
        == "OpenAI client error while doing it: x"
    )


def test_scrub_removes_every_shape_of_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "plain-env-key-without-prefix")
    client = openai.OpenAI(api_key="azure-style-key-1234567890", base_url="http://127.0.0.1:9/v1")
    text = (
        "keys azure-style-key-1234567890 plain-env-key-without-prefix sk-abcdefgh12345678 "
        "Authorization: Bearer tok_9f8e7d6c5b4a https://user:hunter2@proxy.example/v1 task-manager"
    )
    out = scrub(text, client)
    for secret in ("azure-style-key", "plain-env-key", "sk-abcdefgh", "tok_9f8e7d6c5b4a", "hunter2"):
        assert secret not in out
    assert "task-manager" in out and "https://user:***@proxy.example/v1" in out


def test_translated_lets_a_bug_through_untouched() -> None:
    with pytest.raises(ValueError, match="a bug"):
        with translated("listing models"):
            raise ValueError("a bug")
    already = TunewiseError("already one line")
    assert openai_error(already, "anything") is already
    assert not is_api_error(ValueError()) and is_api_error(openai.OpenAIError())
    assert openai_error(KeyError("x"), "reading the answer").message == "KeyError while reading the answer: 'x'"
