"""The fake OpenAI server, driven by the real `openai` client: the shapes and switches other tests rely on."""

from __future__ import annotations

import time

import openai
import pytest

from tests.fakes.openai_finetune import JobScript
from tests.fakes.openai_server import FAKE_API_KEY, FakeOpenAI, openai_server  # noqa: F401 - fixture


@pytest.fixture
def client(openai_server):  # noqa: F811
    return openai.OpenAI(api_key=FAKE_API_KEY, base_url=openai_server.base_url, max_retries=0, timeout=5)


def _upload(client, text: str = '{"messages": []}\n' * 40, name: str = "train.jsonl"):
    return client.files.create(file=(name, text.encode()), purpose="fine-tune")


def _wait(client, job_id: str, timeout: float = 5.0):
    end = time.time() + timeout
    while time.time() < end:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_files_round_trip(client):
    f = _upload(client, "hello\n", "a.jsonl")
    assert (f.filename, f.bytes, f.purpose) == ("a.jsonl", 6, "fine-tune")
    assert client.files.retrieve(f.id).id == f.id
    assert client.files.content(f.id).read() == b"hello\n"
    assert [x.id for x in client.files.list(purpose="fine-tune")] == [f.id]
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-missing")


def test_job_moves_through_states_with_events_checkpoints_and_results():
    now = [1_800_000_000.0]  # a hand-driven clock: every state is seen, however busy the machine is
    with FakeOpenAI(step_seconds=1.0, clock=lambda: now[0]) as server:
        client = openai.OpenAI(api_key=FAKE_API_KEY, base_url=server.base_url, max_retries=0, timeout=5)
        train, valid = _upload(client), _upload(client, name="valid.jsonl")
        job = client.fine_tuning.jobs.create(
            model="gpt-4.1-mini", training_file=train.id, validation_file=valid.id, suffix="s", metadata={"run": "abc"}
        )
        seen = []
        for _ in range(8):
            job = client.fine_tuning.jobs.retrieve(job.id)
            seen.append(job.status)
            now[0] += 1.0
        assert seen == [
            "validating_files",
            "queued",
            "running",
            "running",
            "running",
            "succeeded",
            "succeeded",
            "succeeded",
        ]
        assert job.fine_tuned_model.startswith("ft:gpt-4.1-mini:") and ":s:" in job.fine_tuned_model
        assert job.trained_tokens > 0 and job.hyperparameters.n_epochs == 3  # 40 examples: OpenAI's default 3
        assert b"train_loss" in client.files.content(job.result_files[0]).read()
        events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
        assert events[0].message == "The job has successfully completed"  # newest first, as the API orders them
        metrics = [e for e in events if e.type == "metrics"]
        assert len(metrics) == 6 and all("valid_loss" in e.data and "train_loss" in e.data for e in metrics)
        assert [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data] == [e.id for e in events]
        ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
        assert ckpts and ckpts[0].fine_tuned_model_checkpoint.startswith(job.fine_tuned_model)
        assert job.fine_tuned_model in [m.id for m in client.models.list()]


def test_list_filters_by_metadata_and_pages(client):
    train = _upload(client)
    ids = [
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id, metadata={"k": v}).id
        for v in ("a", "b", "a")
    ]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"k": "a"})] == [ids[2], ids[0]]
    first = client.fine_tuning.jobs.list(limit=1)
    assert first.has_more and len(first.data) == 1
    assert [j.id for j in client.fine_tuning.jobs.list(limit=1)] == ids[::-1]  # auto-paging with `after`


def test_cancel_and_failure(client, openai_server):  # noqa: F811
    train = _upload(client)
    openai_server.finetune.step_seconds = 60.0  # still validating when the cancel arrives, however slow the machine
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id)
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert _wait(client, job.id).status == "cancelled"
    openai_server.finetune.step_seconds = 0.05
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)
    openai_server.next_job = JobScript(outcome="failed")
    failed = _wait(client, client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id).id)
    assert failed.status == "failed" and failed.error.code == "invalid_training_file"
    assert client.fine_tuning.jobs.list_events(failed.id).data[0].level == "error"


def test_fault_switches(client, openai_server):  # noqa: F811
    train = _upload(client)
    openai_server.fail("GET", r"/v1/fine_tuning/jobs", 429, retry_after=0)
    with pytest.raises(openai.RateLimitError) as err:
        client.fine_tuning.jobs.list()
    assert err.value.code == "rate_limit_exceeded"
    openai_server.fail("GET", r"/v1/files", 500)
    assert len(list(client.with_options(max_retries=1).files.list())) == 1  # the SDK's retry gets through
    assert openai_server.calls("GET", r"/v1/files")[-1].headers["x-stainless-retry-count"] == "1"

    openai_server.hang("POST", r"/v1/fine_tuning/jobs")
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id)
    assert len(client.fine_tuning.jobs.list().data) == 1  # committed although never answered

    openai_server.refuse_create("model_not_available")
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id)
    assert (err.value.code, err.value.param) == ("model_not_available", "model")
    openai_server.refuse_create("permission")
    with pytest.raises(openai.PermissionDeniedError):
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=train.id)


def test_chat_scripted_callable_echo_and_stream(client, openai_server):  # noqa: F811
    msgs = [{"role": "user", "content": "hello there"}]
    openai_server.chat.script({"tool_calls": [{"name": "estimate", "arguments": {"tokens": 5}}]}, {"content": {"a": 1}})
    first = client.chat.completions.create(model="m", messages=msgs)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("estimate", '{"tokens": 5}')
    assert client.chat.completions.create(model="m", messages=msgs).choices[0].message.content == '{"a": 1}'
    assert client.chat.completions.create(model="m", messages=msgs).choices[0].message.content == "echo: hello there"
    openai_server.chat.responder = lambda req: f"{len(req['messages'])} messages to {req['model']}"
    assert client.chat.completions.create(model="m", messages=msgs).choices[0].message.content == "1 messages to m"

    openai_server.chat.script("one two three", {"tool_calls": [{"name": "search", "arguments": {"q": "x"}}]})
    chunks = list(
        client.chat.completions.create(model="m", messages=msgs, stream=True, stream_options={"include_usage": True})
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    assert chunks[-1].usage.completion_tokens == 3
    chunks = list(client.chat.completions.create(model="m", messages=msgs, stream=True))
    args = "".join(tc.function.arguments or "" for c in chunks for tc in (c.choices[0].delta.tool_calls or []))
    assert args == '{"q": "x"}' and chunks[-1].choices[0].finish_reason == "tool_calls"
    body = openai_server.calls("POST", r"/v1/chat/completions")[0].body
    assert body["messages"] == msgs


def test_embeddings_are_deterministic_and_similar_texts_are_near(client):
    texts = ["the cat sat on the mat", "the cat sat on a mat", "quarterly revenue grew strongly"]
    a = [d.embedding for d in client.embeddings.create(model="text-embedding-3-small", input=texts).data]  # base64
    b = [
        d.embedding
        for d in client.embeddings.create(model="text-embedding-3-small", input=texts, encoding_format="float").data
    ]
    assert all(abs(x - y) < 1e-6 for u, v in zip(a, b) for x, y in zip(u, v))

    def cos(u, v):
        return sum(x * y for x, y in zip(u, v))

    assert cos(a[0], a[1]) > cos(a[0], a[2]) + 0.3
    assert len(client.embeddings.create(model="e", input="x", dimensions=16).data[0].embedding) == 16


def test_auth_is_checked_and_never_recorded():
    with FakeOpenAI(api_key="sk-right-key-123456") as server:
        ok = openai.OpenAI(api_key="sk-right-key-123456", base_url=server.base_url, max_retries=0)
        assert ok.models.list().data
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="sk-wrong-key-123456", base_url=server.base_url, max_retries=0).models.list()
        assert server.requests[0].headers["authorization"] == "<redacted>"
        assert "sk-right-key" not in repr(server.requests) and "sk-wrong-key" not in repr(server.requests)
