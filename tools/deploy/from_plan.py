"""The agent's deploy step: what the approved plan trained and indexed, packaged under RUN_DIR/deployment.

`tools.deploy.deploy.from_plan(ctx)` is the hook `graphs.steps` calls; it reads the earlier steps' results the way
`tools.evaluation.evaluate.from_plan` does: the trained adapter (or OpenAI model) from `ctx.results["train"]`, the collection
and its Chroma folder from `ctx.results["index"]`.
"""

from __future__ import annotations

from pathlib import Path

TRAINED = ("succeeded", "stopped_early")  # a stopped-early run kept its best adapter
DEFAULT_PLAN_MODEL = (
    "openai:gpt-4.1-mini"  # as tools.evaluation.evaluate: the API model a plan without training prompts
)


def plan_model(ctx) -> str | None:
    """The model spec to deploy: the trained one, or for a plan that trains nothing, the model it prompts."""
    steps = {s["step"]: s for s in ctx.plan.get("steps", [])}
    trained = ctx.results.get("train") or {}
    if "train" not in steps:
        return str(((steps.get("eval") or {}).get("inputs") or {}).get("model") or DEFAULT_PLAN_MODEL)
    inputs = steps["train"].get("inputs") or {}
    if inputs.get("backend") == "openai":
        return f"openai:{trained['model']}" if trained.get("model") else None
    if trained.get("adapter") and trained.get("status") in TRAINED and inputs.get("base_model"):
        return f"hf:{inputs['base_model']}+adapter:{trained['adapter']}"
    return None


def system_prompt(ctx, tuned: bool) -> str | None:
    """A tuned model keeps the system prompt it was trained with; otherwise the plan's starter prompt, if any."""
    train_file = (ctx.results.get("split") or {}).get("train") or ctx.data_path
    if tuned and train_file and Path(train_file).is_file():
        from tools.dataset.formats import load_examples
        from tools.evaluation.candidate_prompts import data_system_prompt

        found = data_system_prompt(load_examples(Path(train_file)))
        if found:
            return found
    return (ctx.plan.get("starter_prompt") or {}).get("system")


def from_plan(ctx) -> dict:
    """Write RUN_DIR/deployment from the plan's trained model and collection; skip, saying why, when either is missing."""
    from tools.atomic import write_text
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, run

    index = ctx.results.get("index") or {}
    model = plan_model(ctx)
    if not index.get("collection") or not index.get("db") or model is None:
        missing = (
            "no collection was indexed"
            if not index.get("collection")
            else "the index step recorded no Chroma folder"
            if not index.get("db")
            else "no trained model to ship"
        )
        return {
            "status": "skipped",
            "message": f"deploy skipped: {missing}; run `tunewise deploy --model SPEC --collection NAME` by hand",
        }
    out = ctx.run_dir / "deployment"
    if ctx.resume and (out / "deployment.json").is_file():  # finished before the interruption: the folder is whole
        from tools.deploy.deploy import load_deployment

        done = load_deployment(out)
        return {
            "status": "done",
            "path": str(out),
            "name": done.name,
            "model": done.spec,
            "collection": done.retrieval.collection,
            "content_hash": done.content_hash,
        }
    tuned = "train" in {s["step"] for s in ctx.plan.get("steps", [])}
    prompt_file = None
    text = system_prompt(ctx, tuned)
    if text:
        prompt_file = ctx.run_dir / "deploy_system_prompt.md"
        write_text(prompt_file, text)
    db = Path(index["db"])  # the index runner records the Chroma folder it wrote
    ctx.progress({"event": "progress", "step": "deploy", "message": f"packaging {model} with '{index['collection']}'"})
    result = run(
        DeployInput(model=model, collection=index["collection"], db=db, system_prompt_file=prompt_file, out=out),
        client=get_chroma_client(db),
        on_status=lambda message: ctx.progress({"event": "progress", "step": "deploy", "message": message}),
    )
    return {
        "status": "done",
        "path": result.out,
        "name": result.name,
        "model": model,
        "collection": result.collection,
        "content_hash": result.content_hash,
        "serve": result.serve_command,
        "summary": result.model_dump(mode="json"),
    }
