"""The training data path and the pieces around training that need no training: templates, masks, checkpoints,
metrics, the over-fitting guard, the Modelfile template and the packed-sequence attention the hf backend relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.tiny_model import CHAT_TEMPLATE, EOS, EOT, build_tiny_model
from tools.dataset.formats import ChatExample, load_examples
from tools.errors import TunewiseError
from tools.train import checkpoints, data, export
from tools.train.metrics import Guard, plot_loss, read_metrics, truncate_metrics

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And Italy?"},
    {"role": "assistant", "content": "Rome."},
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


def trained_text(tokenizer, row) -> str:
    """The text of the labelled tokens, with a | wherever unlabelled tokens were skipped."""
    out, gap = [], False
    for token, label in zip(row["input_ids"], row["labels"]):
        if label == data.IGNORE:
            gap = True
            continue
        if gap and out:
            out.append("|")
        out.append(tokenizer.decode([token]))
        gap = False
    return "".join(out)


def test_loss_covers_assistant_turns_and_their_end_of_turn_token_only(tokenizer) -> None:
    template, source, eot, warnings = data.choose_template(tokenizer, None)
    assert (source, eot.text, eot.token_id, warnings) == ("tokenizer", EOT, tokenizer.convert_tokens_to_ids(EOT), [])
    prepared = data.tokenize([ChatExample(line=1, messages=CONVERSATION)], tokenizer, template, eot, 512)
    row = prepared.rows[0]
    assert trained_text(tokenizer, row) == f"Paris.{EOT}|Rome.{EOT}"
    assert row["labels"].count(eot.token_id) == 2  # every assistant turn ends with the end-of-turn token
    assert tokenizer.decode(row["input_ids"]) == tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert prepared.trained_tokens == sum(label != data.IGNORE for label in row["labels"])


def test_weight_zero_turns_are_context_not_targets(tokenizer) -> None:
    messages = [dict(m) for m in CONVERSATION]
    messages[2]["weight"] = 0
    template, _, eot, _ = data.choose_template(tokenizer, None)
    row = data.tokenize([ChatExample(line=1, messages=messages)], tokenizer, template, eot, 512).rows[0]
    assert trained_text(tokenizer, row) == f"Rome.{EOT}"


def test_alpaca_and_sharegpt_files_train_the_answer(tokenizer, tmp_path: Path) -> None:
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": "Name a colour.", "input": "", "output": "Blue."}]))
    sharegpt = tmp_path / "sharegpt.jsonl"
    sharegpt.write_text(
        json.dumps({"conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}]}) + "\n"
    )
    template, _, eot, _ = data.choose_template(tokenizer, None)
    for path, answer in ((alpaca, "Blue."), (sharegpt, "Hi.")):
        row = data.tokenize(load_examples(path), tokenizer, template, eot, 512).rows[0]
        assert trained_text(tokenizer, row) == answer + EOT


def test_a_tokenizer_without_template_gets_the_plain_one_ending_turns_with_eos(tokenizer) -> None:
    saved = tokenizer.chat_template
    tokenizer.chat_template = None
    try:
        template, source, eot, warnings = data.choose_template(tokenizer, None)
    finally:
        tokenizer.chat_template = saved
    assert source == "prompts/plain.jinja" and eot.text == EOS and "no chat template" in warnings[0]
    row = data.tokenize([ChatExample(line=1, messages=CONVERSATION)], tokenizer, template, eot, 512).rows[0]
    assert trained_text(tokenizer, row) == f"Paris.{EOS}|Rome.{EOS}"


def test_a_template_that_never_ends_assistant_turns_is_replaced(tokenizer) -> None:
    saved = tokenizer.chat_template
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    try:
        _, source, eot, warnings = data.choose_template(tokenizer, None)
    finally:
        tokenizer.chat_template = saved
    assert source == "prompts/plain.jinja" and eot.text == EOS and "would not learn to stop" in warnings[0]


def test_a_template_that_rewrites_history_is_refused_with_the_line(tokenizer) -> None:
    template = "{{ messages | length }}" + CHAT_TEMPLATE  # every render starts with the message count
    eot = data.EndOfTurn(text=EOT, token_id=None)
    with pytest.raises(TunewiseError, match="renders earlier turns differently") as info:
        data.tokenize([ChatExample(line=7, messages=CONVERSATION)], tokenizer, template, eot, 512, path="d.jsonl")
    assert (info.value.path, info.value.line) == ("d.jsonl", 7)


def test_truncation_and_examples_left_with_nothing_to_learn_are_reported(tokenizer) -> None:
    template, _, eot, _ = data.choose_template(tokenizer, None)
    long = ChatExample(
        line=1, messages=[{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]
    )
    short = ChatExample(
        line=2, messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello " * 40}]
    )
    prepared = data.tokenize([long, short], tokenizer, template, eot, 32, path="d.jsonl")
    assert (prepared.truncated, prepared.dropped, len(prepared.rows)) == (2, 1, 1)
    assert all(len(r["input_ids"]) == 32 for r in prepared.rows)
    assert any("truncated" in w for w in prepared.warnings) and any("skipped" in w for w in prepared.warnings)


def test_modelfile_template_is_derived_from_the_chat_template(tokenizer, tmp_path: Path) -> None:
    def render(messages, add_generation_prompt):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    warnings = export.write_modelfile(tmp_path / "Modelfile", source="./merged", render=render, stops=[EOT, EOS])
    text = (tmp_path / "Modelfile").read_text()
    assert warnings == []
    assert "FROM ./merged\n" in text and f'PARAMETER stop "{EOT}"' in text and f'PARAMETER stop "{EOS}"' in text
    assert (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ else }}{{ end }}{{ range .Messages }}"
        '{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n{{ else if eq .Role "assistant" }}'
        "<|im_start|>assistant\n{{ .Content }}<|im_end|>\n{{ end }}{{ end }}<|im_start|>assistant\n"
    ) in text


def test_only_checkpoints_with_the_marker_count_and_rotation_keeps_the_newest(tmp_path: Path) -> None:
    for step in (2, 4, 6, 8):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "adapter_model.safetensors").write_bytes(b"x")
        if step != 8:  # the last one was cut off by a crash
            checkpoints.mark_complete(tmp_path / f"checkpoint-{step}", step=step)
    assert checkpoints.newest_complete(tmp_path).name == "checkpoint-6"
    checkpoints.rotate(tmp_path, keep=1, protect=str(tmp_path / "checkpoint-2"))  # newest one + the best
    assert [p.name for p in checkpoints.all_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-6", "checkpoint-8"]
    assert checkpoints.remove_incomplete(tmp_path) == ["checkpoint-8"]
    assert [p.name for p in checkpoints.complete_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-6"]


def test_metrics_survive_a_torn_last_line_and_resume_cuts_what_is_redone(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(json.dumps({"step": s, "loss": 3.0 - s / 10}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo'
    )
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4, 5]
    truncate_metrics(path, after_step=3)
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    plot_loss(read_metrics(path) + [{"step": 3, "eval_loss": 2.5}], tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_guard_flags_near_zero_loss_and_eval_loss_rising_twice() -> None:
    guard = Guard(early_stopping=False)
    # one low step is noise; the mean of the last five logged losses must be near zero
    assert [guard.on_loss(s, loss) for s, loss in enumerate([0.9, 0.04, 0.03, 0.02, 0.02], 1)] == [None] * 5
    assert "near zero" in guard.on_loss(6, 0.01) and guard.on_loss(7, 0.01) is None  # warned once
    assert [guard.on_eval(s, e) for s, e in ((1, 2.0), (2, 1.5), (3, 1.6))] == [None, None, None]
    assert "rose two evaluations in a row" in guard.on_eval(4, 1.7) and not guard.stop
    stopper = Guard(early_stopping=True, history=[{"step": 1, "eval_loss": 1.0}, {"step": 2, "eval_loss": 1.1}])
    assert "stopping" in stopper.on_eval(3, 1.2) and stopper.stop


def test_the_run_folder_is_protected_unless_nothing_in_it_is_worth_keeping(tiny_dir, tmp_path: Path) -> None:
    from tools.atomic import write_json
    from tools.train.config import TrainInput
    from tools.train.preflight import preflight

    data_file = tmp_path / "d.jsonl"
    data_file.write_text(json.dumps({"messages": CONVERSATION}) + "\n")
    out = tmp_path / "run"
    inp = TrainInput(data=data_file, base_model=str(tiny_dir), output=out)
    assert preflight(inp).resume_from is None  # a new folder
    write_json(out / "run.json", {"status": "running"})  # died before its first checkpoint
    (out / "checkpoints" / "checkpoint-2").mkdir(parents=True)  # ...in the middle of writing it
    checked = preflight(inp)
    assert checked.resume_from is None and not (out / "checkpoints" / "checkpoint-2").exists()
    assert any("before its first checkpoint" in w for w in checked.warnings)
    (out / "checkpoints" / "checkpoint-2").mkdir()
    checkpoints.mark_complete(out / "checkpoints" / "checkpoint-2", step=2)
    with pytest.raises(TunewiseError, match="already holds a training run"):
        preflight(inp)
    write_json(out / "run.json", {"status": "succeeded"})
    with pytest.raises(TunewiseError, match="already finished"):
        preflight(inp.model_copy(update={"resume": True}))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(TunewiseError, match="not empty"):
        preflight(inp.model_copy(update={"output": tmp_path / "other"}))


def test_packed_rows_attend_only_within_their_own_example(tiny_dir) -> None:
    """--packing on the hf backend flattens a batch into one row with restarting position ids; transformers' SDPA
    mask must then keep the examples apart, so the packed logits equal those of each example alone."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir).eval()
    a, b = torch.tensor([[5, 9, 14, 30, 7]]), torch.tensor([[11, 12, 40]])
    with torch.no_grad():
        alone = torch.cat([model(input_ids=a).logits, model(input_ids=b).logits], dim=1)
        # use_cache=False as in training: with a KV cache transformers does not look for packed sequences
        packed = model(
            input_ids=torch.cat([a, b], dim=1), position_ids=torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2]]), use_cache=False
        ).logits
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-4)
