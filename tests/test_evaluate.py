"""`tunewise eval` end to end: tiny local models (base, a LoRA tuned to a JSON format, the prompted base), the fake
OpenAI endpoint as more candidates and as the judge, a real Chroma collection for +rag, and the report files."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.fakes.hash_embedder import HashEmbedder
from tests.fakes.openai_server import openai_server  # noqa: F401 - the fixture
from tests.fakes.tiny_lora import train_tiny_lora
from tests.fakes.tiny_model import build_tiny_model
from tools.builders import generator_loader
from tools.errors import TunewiseError
from tools.evaluation.evaluate import run
from tools.evaluation.schema import EvalInput
from tools.progress import Update

SYSTEM = "Answer with a JSON label."
TRAIN_Q = [
    "what is the capital of france",
    "name a city in italy",
    "which river is in berlin",
    "how many two",
    "hello please",
    "red green blue",
]
EVAL_Q = [
    "what is the capital of spain",
    "one two three",
    "where is oslo",
    "the blue river",
    "thanks model",
    "name a number",
]
TUNED_REPLY = '{"label": "yes"}'


def _row(q: str, a: str) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": q},
                {"role": "assistant", "content": a},
            ]
        }
    )


def _ref(i: int) -> str:
    return '{"label": "%s"}' % ("no" if i % 2 else "maybe")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    base = build_tiny_model(root / "base")
    pairs = [([{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}], TUNED_REPLY) for q in TRAIN_Q]
    run_dir = train_tiny_lora(base, root / "run", pairs)
    (root / "train.jsonl").write_text("".join(_row(q, TUNED_REPLY) + "\n" for q in TRAIN_Q))
    (root / "eval.jsonl").write_text("".join(_row(q, _ref(i)) + "\n" for i, q in enumerate(EVAL_Q)))
    return root, base, run_dir


def _inp(root: Path, out: Path, candidates: list[str], **kw) -> EvalInput:
    return EvalInput(
        eval_file=root / "eval.jsonl",
        train_file=root / "train.jsonl",
        few_shot=2,
        max_new_tokens=20,
        candidates=candidates,
        out=out,
        **kw,
    )


def test_tuned_wins_on_format_and_every_candidate_sees_the_same_examples(world, openai_server, tmp_path) -> None:
    root, base, run_dir = world
    openai_server.chat.responder = lambda req: "Sure! The answer is probably yes."
    stages: list[str] = []
    result = run(
        _inp(
            root,
            tmp_path / "report",
            [
                f"tuned=hf:{base}+adapter:{run_dir}",
                f"base=hf:{base}",
                f"prompted=hf:{base}+prompted",
                "api=openai:gpt-4.1-mini",
                "api_prompted=openai:gpt-4.1-mini+prompted",
            ],
        ),
        progress=lambda update: stages.append(update.stage or ""),
        load=generator_loader(),
        retriever=None,
        embedder=HashEmbedder(),
    )
    by = {c.name: c for c in result.candidates}
    assert all(c.n == len(EVAL_Q) for c in result.candidates)
    assert by["tuned"].metrics["format_adherence"].mean == 1.0
    for other in ("base", "prompted", "api", "api_prompted"):
        assert by[other].metrics["format_adherence"].mean == 0.0
    assert set(by["tuned"].metrics) == {
        "format_adherence",
        "json_validity",
        "rouge_l",
        "similarity",
        "length_ratio",
        "refusal_rate",
    }  # JSON references: validity, not prose habits or labels
    assert result.winner == "tuned"
    # measured against the prompt-engineered baseline, the competitor a fine-tune has to beat
    assert re.match(r"tuned beats (api_)?prompted on format adherence by 100 points \[100, 100\]", result.verdict)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    pair = next(
        c
        for c in report["comparisons"]
        if {c["a"], c["b"]} == {"tuned", "prompted"} and c["metric"] == "format_adherence"
    )
    assert pair["significant"] and pair["diff"] == 1.0
    assert "generate tuned" in stages and "generate api_prompted" in stages

    requests = [r.body["messages"] for r in openai_server.calls("POST", "/v1/chat/completions")]
    plain = [m for m in requests if len(m) == 2]
    prompted = [m for m in requests if len(m) > 2]
    assert sorted(m[1]["content"] for m in plain) == sorted(EVAL_Q)  # the examples exactly as the data has them
    assert all(m[0] == {"role": "system", "content": SYSTEM} for m in plain)
    for messages in prompted:  # system prompt, two few-shot pairs from the train file, then the question
        assert messages[0] == {"role": "system", "content": SYSTEM} and len(messages) == 6
        assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user", "assistant", "user"]
        assert messages[1]["content"] in TRAIN_Q and messages[3]["content"] in TRAIN_Q
        assert messages[-1]["content"] in EVAL_Q
    everything = json.dumps(requests)
    assert not any(_ref(i).replace('"', '\\"') in everything for i in range(len(EVAL_Q)))  # references never sent

    lines = [json.loads(x) for x in (tmp_path / "report" / "outputs.jsonl").read_text().splitlines()]
    assert [x["line"] for x in lines] == list(range(1, len(EVAL_Q) + 1))
    assert all(x["outputs"]["tuned"]["text"] == TUNED_REPLY for x in lines)
    assert all(x["outputs"]["api"]["finish_reason"] == "stop" for x in lines)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_report_files_open_and_embed_the_charts(world, tmp_path) -> None:
    root, base, run_dir = world
    out = tmp_path / "r"
    run(
        _inp(root, out, [f"tuned=hf:{base}+adapter:{run_dir}", f"base=hf:{base}"]),
        load=generator_loader(),
        retriever=None,
        embedder=HashEmbedder(),
    )
    assert sorted(p.name for p in out.iterdir()) == ["outputs.jsonl", "report.html", "report.json", "report.md"]
    page = (out / "report.html").read_text()
    parser = _Images()
    parser.feed(page)
    parser.close()
    report = json.loads((out / "report.json").read_text())
    assert len(parser.images) == len(report["metrics"]) + 1  # a bar chart per metric, then the length distributions
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert parser.tags.count("details") == len(EVAL_Q)  # every example readable
    assert report["verdict"] in page and report["verdict"] in (out / "report.md").read_text()
    assert report["usage"]["tuned"]["completion_tokens"] > 0 and report["habits"]["reference"]["bullets"] == 0.0


def test_overlap_between_train_and_eval_is_refused(world, tmp_path) -> None:
    root, base, _ = world
    leaky = tmp_path / "eval.jsonl"
    leaky.write_text(_row("where is oslo", "x") + "\n" + _row("  Which RIVER is in   berlin ", "y") + "\n")
    with pytest.raises(TunewiseError) as info:
        run(
            EvalInput(
                eval_file=leaky, train_file=root / "train.jsonl", candidates=[f"b=hf:{base}"], out=tmp_path / "o"
            ),
            load=generator_loader(),
            retriever=None,
            embedder=HashEmbedder(),
        )
    assert info.value.path == str(leaky) and info.value.line == 2
    assert "train file" in str(info.value) and "line 3" in str(info.value) and "tunewise split" in str(info.value)
    assert not (tmp_path / "o").exists()  # refused before anything ran


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(candidates=["x=hf:m+prompted"], train_file=None), "--train-file"),
        (dict(candidates=["x=hf:m+rag"]), "needs --collection"),
        (dict(candidates=["no name"]), "bad --candidate"),
        (dict(candidates=["a=hf:m", "a=hf:n"]), "used twice"),
        (dict(candidates=["a=hf:m"], judge="openai:j"), "two or more"),
        (dict(candidates=["a=hf:m", "b=hf:m"], judge="hf:j"), "bad --judge"),
        (dict(candidates=["a=hf:m+prompted"], system_prompt_file=Path("missing.md")), "cannot read the system prompt"),
    ],
)
def test_bad_requests_are_one_line_errors(world, tmp_path, kw, match) -> None:
    root, _, _ = world
    inp = dict(eval_file=root / "eval.jsonl", train_file=root / "train.jsonl", out=tmp_path / "o")
    inp.update(kw)
    with pytest.raises(TunewiseError, match=match):
        run(EvalInput(**inp), load=generator_loader(), retriever=None, embedder=HashEmbedder())


def test_rag_and_judge_candidates(world, openai_server, tmp_path) -> None:
    from tools.clients import get_chroma_client
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index_run
    from tools.rag.search import Retriever

    root, base, run_dir = world
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "oslo.md").write_text("# Oslo\n\nOslo is the capital of Norway and sits on a fjord.\n")
    (docs / "madrid.md").write_text("# Madrid\n\nMadrid is the capital of Spain.\n")
    client, embedder = get_chroma_client(tmp_path / "db"), HashEmbedder()
    index_run(IndexInput(paths=[docs], collection="kb1", db=tmp_path / "db"), client=client, embedder=embedder)

    def responder(req):
        if req["model"] == "judge":  # prefers whichever answer is valid JSON, wherever it is shown
            text = req["messages"][0]["content"]
            a = text.split("<<<answer A>>>\n")[1].split("\n<<<end answer A>>>")[0]
            b = text.split("<<<answer B>>>\n")[1].split("\n<<<end answer B>>>")[0]
            ok = [s.startswith("{") for s in (a, b)]
            return json.dumps({"reason": "format", "winner": "tie" if ok[0] == ok[1] else ("A" if ok[0] else "B")})
        return "plain words"

    openai_server.chat.responder = responder
    result = run(
        _inp(
            root,
            tmp_path / "o",
            [f"tuned=hf:{base}+adapter:{run_dir}", "api_rag=openai:m+rag"],
            collection="kb1",
            judge="openai:judge",
        ),
        load=generator_loader(),
        retriever=Retriever(client, "kb1", embedder),
        embedder=embedder,
    )
    by = {c.name: c for c in result.candidates}
    assert by["tuned"].metrics["judge"].mean == 1.0 and by["api_rag"].metrics["judge"].mean == 0.0
    calls = [r.body for r in openai_server.calls("POST", "/v1/chat/completions")]
    rag = [c["messages"] for c in calls if c["model"] == "m"]
    oslo = next(m for m in rag if m[-1]["content"].endswith("where is oslo"))
    assert "<<<begin context" in oslo[-1]["content"] and "capital of Norway" in oslo[-1]["content"]
    judged = [c["messages"][0]["content"] for c in calls if c["model"] == "judge"]
    assert len(judged) == len(EVAL_Q)
    first_shown = {t.split("<<<answer A>>>\n")[1].startswith("{") for t in judged}
    assert first_shown == {True, False}  # the tuned answer is shown first for some examples, second for others


def test_cli_json_and_the_paid_endpoint_guard(world, openai_server, tmp_path, monkeypatch) -> None:
    root, base, _ = world
    openai_server.chat.responder = lambda req: '{"label": "no"}'
    args = [
        "eval",
        "--eval-file",
        str(root / "eval.jsonl"),
        "--candidate",
        f"base=hf:{base}",
        "--candidate",
        "api=openai:gpt-4.1-mini",
        "--max-new-tokens",
        "8",
        "--out",
        str(tmp_path / "o"),
        "--json",
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data) == {"candidates", "winner", "verdict", "report_dir"}
    assert set(data["candidates"][0]) == {"name", "spec", "n", "metrics"}
    assert set(data["candidates"][0]["metrics"]["similarity"]) == {"mean", "low", "high"}
    assert data["winner"] == "api" and data["verdict"].startswith("api beats base on format adherence")

    monkeypatch.delenv("OPENAI_BASE_URL")  # now the candidate would bill the real OpenAI API
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "billed per token" in refused.output and "--yes" in refused.output
    bad = CliRunner().invoke(app, ["eval", "--eval-file", "e.jsonl", "--candidate", "x=llama:3"])
    assert bad.exit_code == 2 and "bad model spec" in bad.output and "Traceback" not in bad.output


def test_the_agent_step_evaluates_the_trained_run(world, tmp_path) -> None:
    from graphs.steps import StepContext, evaluate
    from tests.fakes.plans import eval_step, plan_with, split_done, train_step, trained

    root, base, run_dir = world
    events: list[Update] = []
    plan = plan_with(train_step(base), eval_step(4, max_new_tokens=20), starter="Reply in JSON.")
    ctx = StepContext(
        plan=plan,
        step=plan.steps[1],
        run_dir=tmp_path,
        plan_file=tmp_path / "plan.json",
        results={"split": split_done(root / "train.jsonl", root / "eval.jsonl"), "train": trained(run_dir / "adapter")},
        resume=False,
        check_cost=lambda cost: None,
        progress=events.append,
        data_path=None,
        docs_dir=None,
        chroma_dir=tmp_path / "chroma",
    )
    result = evaluate(ctx)
    assert result.status == "done" and result.winner == "tuned"
    assert result.verdict.startswith("tuned beats prompted on format adherence")
    assert [c["name"] for c in result.summary["candidates"]] == ["tuned", "base", "prompted"]
    assert result.summary["candidates"][0]["n"] == 4
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["prompted"]["system_prompt"] == "Reply in JSON."
    assert any(u.stage == "generate tuned" and u.unit == "examples" and u.total == 4 for u in events)
    again = evaluate(ctx.again(resume=True))  # a resumed session reuses the finished report
    assert again.verdict == result.verdict
    nothing = evaluate(ctx.again(results={}))
    assert nothing.status == "skipped" and "tunewise eval" in nothing.message


def test_prompted_rag_prompts_are_fitted_to_the_window_and_the_trimming_is_reported(tmp_path) -> None:
    """A 640-token model: the few-shot examples stay, the passages that do not fit are left out, lowest rank first."""
    from tools.clients import get_chroma_client
    from tools.models.generation import load_generator
    from tools.models.spec import parse_spec
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index_run
    from tools.rag.search import Retriever

    root = tmp_path
    (root / "train.jsonl").write_text("".join(_row(q, TUNED_REPLY) + "\n" for q in TRAIN_Q))
    (root / "eval.jsonl").write_text("".join(_row(q, _ref(i)) + "\n" for i, q in enumerate(EVAL_Q)))
    base = build_tiny_model(root / "small", max_positions=640)
    docs = root / "docs"
    docs.mkdir()
    for i, city in enumerate(["oslo", "madrid", "paris", "rome"]):
        (docs / f"{city}.md").write_text(f"# {city}\n\n" + f"{city} is a capital. " * (2 + 2 * i) + "\n")
    client, embedder = get_chroma_client(root / "db"), HashEmbedder()
    index_run(IndexInput(paths=[docs], collection="kb9", db=root / "db"), client=client, embedder=embedder)
    generator = load_generator(parse_spec(f"hf:{base}"))
    seen: list[list[dict]] = []

    class Recording:
        def __getattr__(self, name):
            return getattr(generator, name)

        def generate(self, conversations, **kw):
            seen.extend(conversations)
            return generator.generate(conversations, **kw)

    retriever = Retriever(client, "kb9", embedder)
    result = run(
        _inp(root, root / "report", [f"pr=hf:{base}+prompted+rag", f"plain=hf:{base}"], collection="kb9", rag_k=4),
        load=lambda spec: Recording(),
        retriever=retriever,
        embedder=embedder,
    )
    report = json.loads((Path(result.report_dir) / "report.json").read_text())
    fitted = report["context"]["pr"]
    assert fitted["window"] == 640 and fitted["trimmed"] == len(EVAL_Q) and fitted["passages_dropped"] > 0
    assert fitted["few_shot_dropped"] == 0 and report["context"]["plain"]["trimmed"] == 0
    assert any(
        w.startswith("pr: 6 of 6 prompts were trimmed to the model's 640-token window") for w in report["warnings"]
    )
    tokens = lambda conv: len(generator.tokenizer(generator.render(conv), add_special_tokens=False)["input_ids"])  # noqa: E731
    prompted = [c for c in seen if len(c) > 3]
    assert len(prompted) == len(EVAL_Q) and all(tokens(c) + 20 <= 640 for c in prompted)
    kept_counts = []
    for conv in prompted:  # the few-shot turns are all there; the passages kept are the top of the ranking
        assert sum(m["role"] == "assistant" for m in conv) == 2
        question = conv[-1]["content"].rsplit("\n\n", 1)[-1]
        kept = re.findall(r"^\[(\d+)\] (\S+)", conv[-1]["content"], re.M)
        top = [Path(h.source).name for h in retriever.search(question, k=4)]
        assert [int(n) for n, _ in kept] == list(range(1, len(kept) + 1)) and [s for _, s in kept] == top[: len(kept)]
        kept_counts.append(len(kept))
    assert max(kept_counts) >= 1, "some passages fit: the trimming keeps what fits rather than dropping them all"
