"""`tunewise deploy`: the folder, its manifest and hash, the Modelfile and vLLM command, --merge, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.deploy.deploy import DeployInput, file_sha256, load_deployment, run
from tools.errors import TunewiseError
from tools.progress import Update

LOCAL_EMBEDDER = "local:all-MiniLM-L6-v2"


class _Stamp:
    """Only the name and size of the local embedder: deploy reads a collection's stamp and never embeds."""

    name, dimension = LOCAL_EMBEDDER, 384


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tests.fakes.tiny_lora import train_tiny_lora
    from tests.fakes.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("models")
    base = build_tiny_model(root / "base", max_positions=4096)
    train_tiny_lora(
        base, root / "run", pairs=[([{"role": "user", "content": "Where is Paris?"}], "In France.")], steps=5
    )
    return base, root / "run"


@pytest.fixture
def chroma(tmp_path):
    from tools.clients import get_chroma_client
    from tools.rag.collection import open_collection

    db = tmp_path / "chroma"
    client = get_chroma_client(db)
    collection = open_collection(client, "docs", _Stamp(), create=True)
    collection.add(
        ids=["p0"],
        embeddings=[[1.0] + [0.0] * 383],
        documents=["Paris is in France."],
        metadatas=[{"source": str(tmp_path / "paris.md"), "chunk": 0}],
    )
    return client, db


def _deploy(client, db, out, model, **kw):
    return run(DeployInput(model=model, collection="docs", db=db, out=out, **kw), client=client)


def test_adapter_deployment_writes_manifest_modelfile_and_vllm_command(models, chroma, tmp_path):
    base, run_dir = models
    client, db = chroma
    prompt = tmp_path / "system.txt"
    prompt.write_text("You answer geography questions in one sentence.\n")
    result = _deploy(client, db, tmp_path / "prod", f"hf:{base}+adapter:{run_dir}", k=3, system_prompt_file=prompt)

    out = tmp_path / "prod"
    manifest = json.loads((out / "deployment.json").read_text())
    assert manifest["name"] == result.name == "prod"
    assert manifest["model"]["kind"] == "hf" and manifest["model"]["base"] == str(base.resolve())
    assert manifest["model"]["adapter"] == "adapter" and manifest["model"]["lora_rank"] == 8
    assert manifest["model"]["stop"] == ["<|im_end|>", "<|endoftext|>"]
    assert "<|im_start|>" in manifest["model"]["chat_template"]
    assert manifest["retrieval"] == {
        "collection": "docs",
        "db": str(db.resolve()),
        "chroma_url": None,
        "embedder": LOCAL_EMBEDDER,
        "k": 3,
        "mode": "hybrid",
    }
    assert manifest["system_prompt"] == "You answer geography questions in one sentence."
    assert result.chunks == 1 and result.warnings == []
    # The adapter is a copy, byte for byte, and every owned file is hashed in the manifest.
    weights = "adapter/adapter_model.safetensors"
    assert file_sha256(out / weights) == file_sha256(run_dir / "adapter" / "adapter_model.safetensors")
    assert manifest["files"][weights] == file_sha256(out / weights)
    assert set(manifest["files"]) | {"deployment.json"} == set(result.files)
    assert load_deployment(out).content_hash == result.content_hash

    modelfile = (out / "Modelfile").read_text()
    assert f"FROM {base.resolve()}\nADAPTER ./adapter\n" in modelfile
    assert 'TEMPLATE """' in modelfile and "<|im_start|>assistant" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and 'PARAMETER stop "<|endoftext|>"' in modelfile
    assert result.vllm_command == (
        f"vllm serve {base.resolve()} --enable-lora --lora-modules prod={out / 'adapter'} "
        f"--max-lora-rank 8 --chat-template {out / 'chat_template.jinja'}"
    )
    assert result.vllm_command in (out / "vllm.sh").read_text()
    assert (out / "chat_template.jinja").read_text() == manifest["model"]["chat_template"]


def test_hash_is_stable_and_any_change_is_caught(models, chroma, tmp_path):
    base, run_dir = models
    client, db = chroma
    out = tmp_path / "dep"
    first = _deploy(client, db, out, f"hf:{base}+adapter:{run_dir}")
    again = _deploy(client, db, out, f"hf:{base}+adapter:{run_dir}")  # replaces the folder whole
    assert again.content_hash == first.content_hash
    assert not list(tmp_path.glob(".dep*")), "no temp folder is left beside the deployment"
    assert _deploy(client, db, out, f"hf:{base}+adapter:{run_dir}", k=5).content_hash != first.content_hash

    manifest = out / "deployment.json"
    original = manifest.read_text()
    manifest.write_text(original.replace('"k": 5', '"k": 6'))
    with pytest.raises(TunewiseError, match="edited since"):
        load_deployment(out)
    manifest.write_text(original)
    with (out / "adapter" / "adapter_model.safetensors").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(TunewiseError, match="changed or missing") as info:
        load_deployment(out)
    assert info.value.path.endswith("adapter_model.safetensors")
    manifest.write_text('{\n  "format": 1,\n  oops\n}')
    with pytest.raises(TunewiseError, match="not valid JSON") as info:
        load_deployment(out)
    assert info.value.line == 3


def test_merge_folds_the_adapter_into_a_16_bit_model(models, chroma, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base, run_dir = models
    client, db = chroma
    result = _deploy(client, db, tmp_path / "merged-dep", f"hf:+adapter:{run_dir}", merge=True)
    out = Path(result.out)
    manifest = load_deployment(out)
    assert manifest.model.merged == "merged" and manifest.model.adapter is None and manifest.model.base is None
    assert not (out / "adapter").exists()
    assert (out / "Modelfile").read_text().splitlines()[1] == "FROM ./merged"
    assert result.vllm_command.startswith(f"vllm serve {out / 'merged'} --served-model-name merged-dep")

    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(str(out / "merged"), dtype=torch.float32)(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
        reference = PeftModel.from_pretrained(plain, str(run_dir / "adapter"))(ids).logits
        without = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)(ids).logits
    saved = json.loads((out / "merged" / "config.json").read_text())
    assert (saved.get("dtype") or saved.get("torch_dtype")) == "bfloat16"
    error = (merged - reference).abs().max().item()
    effect = (without - reference).abs().max().item()
    assert error < effect / 10, f"merged differs from base+adapter by {error}, the adapter's own effect is {effect}"


def test_upstream_deployment_has_no_local_files(chroma, tmp_path):
    client, db = chroma
    result = _deploy(client, db, tmp_path / "up", "openai:ft:gpt-4.1-mini:acme::abc123@http://127.0.0.1:9/v1")
    manifest = load_deployment(Path(result.out))
    assert manifest.model.kind == "openai" and manifest.model.upstream == "ft:gpt-4.1-mini:acme::abc123"
    assert manifest.model.base_url == "http://127.0.0.1:9/v1"
    assert result.files == ["deployment.json"] and result.modelfile is None and result.vllm_command is None
    spec = manifest.generator_spec(Path(result.out))
    assert (spec.kind, spec.model, spec.base_url) == ("openai", "ft:gpt-4.1-mini:acme::abc123", "http://127.0.0.1:9/v1")


def test_refusals_are_one_clear_error(models, chroma, tmp_path):
    base, run_dir = models
    client, db = chroma
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(TunewiseError, match="not a tunewise deployment"):
        _deploy(client, db, precious, f"hf:{base}")
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(TunewiseError, match="no collection 'nope'"):
        run(DeployInput(model=f"hf:{base}", collection="nope", db=db, out=tmp_path / "a"), client=client)
    with pytest.raises(TunewiseError, match="system prompt file not found") as info:
        _deploy(client, db, tmp_path / "b", f"hf:{base}", system_prompt_file=tmp_path / "missing.txt")
    assert info.value.path == str(tmp_path / "missing.txt")
    with pytest.raises(TunewiseError, match=r"\+prompted"):
        _deploy(client, db, tmp_path / "c", f"hf:{base}+prompted")
    with pytest.raises(TunewiseError, match="--merge needs"):
        _deploy(client, db, tmp_path / "d", "openai:gpt-4.1-mini", merge=True)
    with pytest.raises(TunewiseError, match="neither a folder nor in the Hugging Face cache"):
        _deploy(client, db, tmp_path / "e", "hf:nobody/no-such-model")
    assert not any(p.name in "abcde" for p in tmp_path.iterdir()), "a refused deploy writes nothing"


def test_cli_deploy_json_and_error_line(models, chroma, tmp_path):
    from agent.cli import app

    base, run_dir = models
    _, db = chroma
    runner = CliRunner()
    out = tmp_path / "cli-dep"
    result = runner.invoke(
        app,
        [
            "deploy",
            "--model",
            f"hf:{base}+adapter:{run_dir}",
            "--collection",
            "docs",
            "--db",
            str(db),
            "--out",
            str(out),
            "-k",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "cli-dep" and data["k"] == 2 and data["serve_command"] == f"tunewise serve {out}"
    bad = runner.invoke(app, ["deploy", "--model", "gpt-4.1-mini", "--collection", "docs", "--db", str(db)])
    assert bad.exit_code == 2
    assert bad.output.strip().startswith("error: bad model spec 'gpt-4.1-mini'") and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_the_agent_step_deploys_the_trained_run_and_the_collection(models, chroma, tmp_path):
    from graphs import steps
    from graphs.steps import StepContext

    base, run_dir = models
    _, db = chroma
    train = tmp_path / "train.jsonl"
    train.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Answer in one sentence."},
                    {"role": "user", "content": "Where is Paris?"},
                    {"role": "assistant", "content": "In France."},
                ]
            }
        )
        + "\n"
    )
    from tests.fakes.plans import deploy_step, indexed, plan_with, split_done, train_step, trained

    plan = plan_with(train_step(base), deploy_step())
    events: list[Update] = []
    ctx = StepContext(
        plan=plan,
        step=plan.steps[1],
        run_dir=tmp_path / "plan-run",
        plan_file=tmp_path / "plan.json",
        results={"split": split_done(train), "index": indexed("docs", db), "train": trained(run_dir / "adapter")},
        resume=False,
        check_cost=lambda cost: None,
        progress=events.append,
        data_path=None,
        docs_dir=None,
        chroma_dir=db,
    )
    result = steps.deploy(ctx)  # the runner the agent calls
    out = (tmp_path / "plan-run" / "deployment").resolve()
    assert result.status == "done" and result.path == str(out)
    deployment = load_deployment(out)
    assert deployment.spec == f"hf:{base}+adapter:{run_dir / 'adapter'}" and deployment.model.adapter == "adapter"
    assert deployment.retrieval.collection == "docs" and deployment.retrieval.db == str(db.resolve())
    assert deployment.system_prompt == "Answer in one sentence."  # what the tuned model was trained with
    assert any("packaging" in (u.message or "") for u in events)

    again = steps.deploy(ctx.again(resume=True))  # resumed: the whole folder is reused
    assert again.content_hash == result.content_hash and load_deployment(out).created_at == deployment.created_at
    failed = steps.deploy(ctx.again(results={**ctx.results, "train": trained(run_dir / "adapter", status="failed")}))
    assert failed.status == "skipped" and "no trained model" in failed.message
    unindexed = steps.deploy(ctx.again(results={k: v for k, v in ctx.results.items() if k != "index"}))
    assert unindexed.status == "skipped" and "no collection" in unindexed.message
