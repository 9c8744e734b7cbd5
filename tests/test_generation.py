"""Generators: a tiny local model (with and without a trained LoRA) and the fake OpenAI-compatible endpoint."""

from __future__ import annotations

import threading

import pytest

from tests.fakes.openai_finetune import ApiError
from tests.fakes.openai_server import FAKE_API_KEY, openai_server  # noqa: F401 - the fixture
from tests.fakes.tiny_lora import train_tiny_lora
from tests.fakes.tiny_model import CHAT_TEMPLATE, build_tiny_model
from tools.clients import get_openai_client
from tools.errors import TunewiseError
from tools.models.generation import Generation, HFGenerator, OpenAIGenerator, load_generator
from tools.models.spec import parse_spec

REPLY = '{"label": "yes"}'
QUESTIONS = [
    "what is the capital of france",
    "name a city in italy",
    "which river is in berlin",
    "how many two",
    "hello please",
    "red green blue",
]
# The adapter's run used its own template (a colon after the role): generation must use it, not the base's.
ADAPTER_TEMPLATE = CHAT_TEMPLATE.replace("message['role'] + '\\n'", "message['role'] + ':\\n'").replace(
    "assistant\\n'", "assistant:\\n'"
)


def _convs(*questions: str) -> list[list[dict]]:
    return [[{"role": "user", "content": q}] for q in questions]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("base") / "m")


@pytest.fixture(scope="module")
def run_dir(base, tmp_path_factory):
    pairs = [(c, REPLY) for c in _convs(*QUESTIONS)]
    return train_tiny_lora(base, tmp_path_factory.mktemp("run"), pairs, chat_template=ADAPTER_TEMPLATE)


@pytest.fixture(scope="module")
def base_gen(base):
    return load_generator(parse_spec(f"hf:{base}"))


@pytest.fixture(scope="module")
def tuned_gen(base, run_dir):
    return load_generator(parse_spec(f"hf:{base}+adapter:{run_dir}"))


def test_base_generation_is_greedy_batched_and_counted(base_gen: HFGenerator) -> None:
    convs = _convs("what is the capital of spain", "one two", "a long question about the river in paris and rome")
    batched = base_gen.generate(convs, max_new_tokens=6)
    base_gen.batch_size = 1
    try:
        single = base_gen.generate(convs, max_new_tokens=6)
    finally:
        base_gen.batch_size = 8
    assert [g.text for g in batched] == [g.text for g in single]  # left padding does not change any reply
    assert batched == base_gen.generate(convs, max_new_tokens=6)  # greedy: the same every time
    for conv, gen in zip(convs, batched):
        assert isinstance(gen, Generation)
        prompt = base_gen.render(conv)
        assert prompt.endswith("<|im_start|>assistant\n")
        assert gen.prompt_tokens == len(base_gen.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if gen.finish_reason == "length":
            assert gen.completion_tokens == 6


def test_sampling_with_temperature_runs(base_gen: HFGenerator) -> None:
    out = base_gen.generate(_convs("hello"), max_new_tokens=4, temperature=0.9)
    assert len(out) == 1 and out[0].completion_tokens <= 4


def test_adapter_run_uses_its_template_and_stops_at_end_of_turn(tuned_gen: HFGenerator, run_dir) -> None:
    assert tuned_gen.render(_convs("hi")[0]).endswith("<|im_start|>assistant:\n")
    assert tuned_gen.tokenizer.convert_tokens_to_ids("<|im_end|>") in tuned_gen.stop_ids
    out = tuned_gen.generate(_convs("what is the capital of spain", "one two three"), max_new_tokens=40)
    assert [g.text for g in out] == [REPLY, REPLY]  # unseen questions: the trained format, and nothing after it
    assert all(g.finish_reason == "stop" and g.completion_tokens < 40 for g in out)
    # The adapter folder itself works as well as the run folder.
    same = HFGenerator(parse_spec(f"hf:+adapter:{run_dir / 'adapter'}"))
    assert same.generate(_convs("one two three"), max_new_tokens=40)[0].text == REPLY


def test_stream_matches_generate_and_reports_usage(tuned_gen: HFGenerator, base_gen: HFGenerator) -> None:
    usage: dict = {}
    pieces = list(tuned_gen.stream(_convs("red green")[0], max_new_tokens=40, usage=usage))
    assert "".join(pieces) == REPLY and len(pieces) >= 1
    assert usage["finish_reason"] == "stop" and usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    # Closing a stream early stops the model and frees the lock for the next caller.
    stream = base_gen.stream(_convs("hello")[0], max_new_tokens=400)
    next(stream)
    stream.close()
    assert base_gen.generate(_convs("hello"), max_new_tokens=2)[0].completion_tokens <= 2


def test_concurrent_callers_get_the_answers_they_would_alone(tuned_gen: HFGenerator, base_gen: HFGenerator) -> None:
    alone = base_gen.generate(_convs("one two"), max_new_tokens=5)
    results: list = [None] * 4

    def call(i: int) -> None:
        results[i] = (tuned_gen if i % 2 else base_gen).generate(_convs("one two"), max_new_tokens=5)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == alone and results[2] == alone
    assert results[1][0].text == results[3][0].text == REPLY[: len(results[1][0].text)]


def test_multi_token_stop_text_is_cut_in_streams(base_gen: HFGenerator) -> None:
    import threading as th

    base_gen.stop_text = "END"
    try:
        cancel = th.Event()
        got = list(base_gen._stop_filtered(iter(["ab", "cE", "N", "Dzz", "more"]), cancel))
        assert "".join(got) == "abc" and cancel.is_set()
        assert "".join(base_gen._stop_filtered(iter(["xE", "y"]), th.Event())) == "xEy"
    finally:
        base_gen.stop_text = None


def test_bad_model_folder_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(TunewiseError, match="cannot load the model"):
        HFGenerator(parse_spec(f"hf:{tmp_path / 'nothing'}"))


def test_openai_generator_keeps_order_and_sends_clean_messages(openai_server) -> None:
    openai_server.chat.responder = lambda req: "re: " + req["messages"][-1]["content"]
    gen = load_generator(parse_spec("openai:gpt-4.1-mini"), client=get_openai_client())
    assert isinstance(gen, OpenAIGenerator)
    convs = [[{"role": "system", "content": "s"}, {"role": "user", "content": f"q{i}", "weight": 1}] for i in range(7)]
    out = gen.generate(convs, max_new_tokens=11)
    assert [g.text for g in out] == [f"re: q{i}" for i in range(7)]
    assert all(g.finish_reason == "stop" and g.prompt_tokens > 0 for g in out)
    body = openai_server.calls("POST", "/v1/chat/completions")[0].body
    assert body["max_tokens"] == 11 and body["temperature"] == 0.0
    assert all(set(m) == {"role", "content"} for m in body["messages"])
    assert "".join(gen.stream(convs[0])) == "re: q0"


def test_openai_generator_switches_to_max_completion_tokens(openai_server) -> None:
    def responder(req):
        if "max_tokens" in req:
            return ApiError(400, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.")
        return "ok"

    openai_server.chat.responder = responder
    gen = OpenAIGenerator(parse_spec("openai:o4-mini"), client=get_openai_client())
    assert gen.generate(_convs("a", "b"), max_new_tokens=3)[1].text == "ok"
    assert openai_server.calls("POST", "/v1/chat/completions")[-1].body["max_completion_tokens"] == 3


def test_openai_errors_are_one_line_without_the_key(openai_server) -> None:
    openai_server.fail("POST", "/v1/chat/completions", 401, times=5)
    gen = OpenAIGenerator(
        parse_spec(f"openai:gpt-4.1-mini@{openai_server.base_url}"),
        client=get_openai_client(base_url=openai_server.base_url),
    )
    with pytest.raises(TunewiseError) as info:
        gen.generate(_convs("a"))
    assert "401" in str(info.value) and "OPENAI_API_KEY" in str(info.value) and FAKE_API_KEY not in str(info.value)
    dead = OpenAIGenerator(
        parse_spec("openai:m@http://127.0.0.1:9/v1"),
        client=get_openai_client(base_url="http://127.0.0.1:9/v1", max_retries=0),
    )
    with pytest.raises(TunewiseError, match="cannot reach"):
        dead.generate(_convs("a"))
