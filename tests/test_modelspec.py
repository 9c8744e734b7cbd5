"""Model specs: every documented form parses, anything else is one clear usage error."""

from __future__ import annotations

import json

import pytest

from tools.errors import TunewiseError
from tools.models.spec import ModelSpec, adapter_dir, base_model, parse_spec


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hf:Qwen/Qwen2.5-0.5B-Instruct", dict(kind="hf", path="Qwen/Qwen2.5-0.5B-Instruct")),
        ("hf:./base+adapter:runs/r1", dict(kind="hf", path="./base", adapter="runs/r1")),
        ("hf:+adapter:runs/r1+prompted", dict(kind="hf", adapter="runs/r1", prompted=True)),
        ("hf:/models/c++/m+rag+prompted", dict(kind="hf", path="/models/c++/m", rag=True, prompted=True)),
        ("openai:gpt-4.1-mini", dict(kind="openai", model="gpt-4.1-mini")),
        (
            "openai:ft:gpt-4.1-mini:org::abc123+prompted",
            dict(kind="openai", model="ft:gpt-4.1-mini:org::abc123", prompted=True),
        ),
        ("openai:m@http://127.0.0.1:8000/v1", dict(kind="openai", model="m", base_url="http://127.0.0.1:8000/v1")),
        ("openai:m@https://h/v1+rag", dict(kind="openai", model="m", base_url="https://h/v1", rag=True)),
        ("openai:m+prompted@http://h:1/v1", dict(kind="openai", model="m", base_url="http://h:1/v1", prompted=True)),
    ],
)
def test_forms_parse(text: str, expected: dict) -> None:
    spec = parse_spec(text)
    assert spec == ModelSpec(**expected)
    assert parse_spec(str(spec)) == spec  # str() writes a spec that parses back to the same thing


@pytest.mark.parametrize(
    "text, why",
    [
        ("gpt-4.1-mini", "must start with hf: or openai:"),
        ("ollama:llama3", "must start with hf: or openai:"),
        ("hf:", "needs a model folder"),
        ("hf:base+adapter:", "+adapter: needs a folder"),
        ("hf:b+adapter:a+adapter:c", "only one +adapter:"),
        ("openai:", "needs a model name"),
        ("openai:+prompted", "needs a model name"),
        ("openai:m@ftp://x", "must start with http"),
        ("openai:m+adapter:x", "applies to hf: models"),
        ("hf:m+rag+rag", "given twice"),
        ("hf:m@http://x/v1", "inline @URL belongs to openai"),
    ],
)
def test_bad_specs_are_usage_errors(text: str, why: str) -> None:
    with pytest.raises(TunewiseError) as info:
        parse_spec(text)
    assert info.value.exit_code == 2
    assert why in str(info.value) and "hf:PATH" in str(info.value)


def test_spec_is_frozen() -> None:
    with pytest.raises(Exception):
        parse_spec("hf:x").path = "y"  # type: ignore[misc]


def test_adapter_dir_accepts_run_folder_or_adapter_folder(tmp_path) -> None:
    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/models/base"}))
    assert adapter_dir(parse_spec(f"hf:b+adapter:{run}")) == run / "adapter"
    assert adapter_dir(parse_spec(f"hf:b+adapter:{run / 'adapter'}")) == run / "adapter"
    assert adapter_dir(parse_spec("hf:b")) is None
    assert base_model(parse_spec(f"hf:+adapter:{run}")) == "/models/base"
    assert base_model(parse_spec(f"hf:/other+adapter:{run}")) == "/other"


def test_adapter_dir_errors_name_the_folder(tmp_path) -> None:
    with pytest.raises(TunewiseError, match="adapter folder not found"):
        adapter_dir(parse_spec(f"hf:b+adapter:{tmp_path / 'missing'}"))
    with pytest.raises(TunewiseError, match="no adapter_config.json") as info:
        adapter_dir(parse_spec(f"hf:b+adapter:{tmp_path}"))
    assert str(tmp_path) in str(info.value)
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(TunewiseError, match="names no base model"):
        base_model(parse_spec(f"hf:+adapter:{tmp_path}"))
