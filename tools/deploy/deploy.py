"""Package a fine-tuned model and a RAG collection into one folder that `tunewise serve` (or vLLM, or Ollama) runs.

    DIR/deployment.json   the model (local base + adapter, merged folder, or an OpenAI-compatible upstream), its chat
                          template and stop strings, the collection with its store and embedder, k, the system
                          prompt, the sha256 of every file the folder owns, and a content hash over all of that
    DIR/adapter/          the LoRA adapter, copied: retraining into the same run folder cannot change a deployment
    DIR/merged/           --merge: the adapter folded into a 16-bit copy of the base (peft's merge_and_unload)
    DIR/chat_template.jinja, DIR/Modelfile, DIR/vllm.sh   local models: the template, Ollama, and `vllm serve`

The folder is built beside DIR and swapped in whole, so a reader sees the old deployment or the new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.deploy import vllm_fit
from tools.digest import file_sha256
from tools.errors import TunewiseError, UsageError
from tools.progress import Progress, Update, silent
from tools.serving.budget import ContextBudget

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from tools.models.spec import ModelSpec
    from tools.privacy.destinations import DataFlow, EndpointPolicy

FORMAT = 1
MANIFEST = "deployment.json"


class DeployInput(BaseModel):
    """A deployment of one model (fine-tuned or not) answering from one indexed collection."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="Model spec as for `tunewise eval`: hf:BASE+adapter:RUN, hf:FOLDER or openai:MODEL[@URL]."
    )
    collection: str = Field(description="The collection built by `tunewise index` that answers are grounded in.")
    db: Path | None = Field(default=None, description="Local Chroma folder holding the collection (or chroma_url).")
    chroma_url: str | None = Field(default=None, description="A Chroma server holding the collection (or db).")
    system_prompt_file: Path | None = Field(
        default=None, description="Text file with the system prompt every request starts with."
    )
    # 4 passages of ~400 tokens keep the added context near 1.6k tokens: room for the question on small models.
    k: int = Field(default=4, ge=1, le=50, description="Passages retrieved for each request.")
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid", description="Retrieval: dense + BM25 fused (hybrid), dense only or BM25 only; serve uses it."
    )
    out: Path = Field(description="The deployment folder to write; an existing deployment there is replaced whole.")
    merge: bool = Field(default=False, description="Fold the LoRA adapter into a 16-bit copy of the base model.")
    private: bool = Field(
        default=False,
        description="The data must stay in-house: refuse a hosted model or embedder, now and whenever it is served.",
    )
    tensor_parallel: int | None = Field(
        default=None, ge=1, description="GPUs vLLM spreads the model over; None: as many as `serve` finds."
    )

    @model_validator(mode="after")
    def _one_store(self) -> "DeployInput":
        if (self.db is None) == (self.chroma_url is None):
            raise ValueError("give exactly one of db (a local Chroma folder) and chroma_url (a Chroma server)")
        return self


class DeployedModel(BaseModel):
    """deployment.json's model: a local base with its adapter or merged copy, or an OpenAI-compatible upstream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["hf", "openai"] = Field(
        description="hf: generated here with transformers; openai: an upstream endpoint."
    )
    base: str | None = Field(default=None, description="hf: the base model folder (absolute) or cached hub name.")
    adapter: str | None = Field(default=None, description="hf: the LoRA adapter folder, relative to the deployment.")
    merged: str | None = Field(
        default=None, description="hf --merge: the merged model folder, relative to the deployment."
    )
    upstream: str | None = Field(default=None, description="openai: the model name the endpoint serves.")
    base_url: str | None = Field(
        default=None, description="openai: the endpoint; None means OPENAI_BASE_URL or OpenAI."
    )
    chat_template: str | None = Field(
        default=None, description="hf: the Jinja chat template prompts are rendered with."
    )
    stop: list[str] = Field(default_factory=list, description="hf: strings that end a reply (end of turn, eos).")
    lora_rank: int | None = Field(default=None, description="hf: the adapter's LoRA rank r.")
    vllm_base: str | None = Field(
        default=None, description="hf: the 16-bit base vLLM serves when `base` is a 4-bit copy (tools/deploy/vllm_fit)."
    )
    tensor_parallel: int | None = Field(
        default=None, description="hf: GPUs vLLM spreads the model over; None: as many as `serve` finds."
    )


class DeployedRetrieval(BaseModel):
    """deployment.json's retrieval: the collection, where it is stored, the embedder that built it, k and the mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    collection: str
    db: str | None = Field(description="Absolute path of the local Chroma folder, or None with chroma_url.")
    chroma_url: str | None
    embedder: str = Field(description="The embedder that built the collection, e.g. local:all-MiniLM-L6-v2.")
    k: int
    # A deployment.json written before retrieval modes existed has no `mode`: it was deployed with dense retrieval
    # and is served that way (its content hash covers what was deployed); `recorded_mode` tells the two apart.
    mode: Literal["hybrid", "dense", "lexical"] = Field(default="dense", description="How passages are retrieved.")

    @property
    def recorded_mode(self) -> bool:
        """Whether deployment.json names the mode (False: written before retrieval modes, served dense)."""
        return "mode" in self.model_fields_set

    @property
    def embedder_spec(self) -> str:
        """Return what `tools.rag.embedders.get_embedder` takes: 'local' or 'openai:MODEL'."""
        return "local" if self.embedder.startswith("local:") else self.embedder


class Deployment(BaseModel):
    """deployment.json: everything `tunewise serve` needs, and nothing secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = FORMAT
    name: str = Field(description="The model id clients ask for (the folder's name).")
    spec: str = Field(description="The model spec deployed, as given.")
    model: DeployedModel
    retrieval: DeployedRetrieval
    system_prompt: str | None
    private: bool = Field(
        default=False, description="The data must stay in-house: `tunewise serve` refuses a hosted model or embedder."
    )
    files: dict[str, str] = Field(description="sha256 of every file in the folder, by relative path.")
    created_at: str
    content_hash: str = Field(description="sha256 over everything above but created_at: same inputs, same hash.")

    def generator_spec(self, folder: Path) -> ModelSpec:
        """Return the ModelSpec `tools.models.generation.load_generator` loads for this deployment in `folder`."""
        from tools.models.spec import ModelSpec

        m = self.model
        if m.kind == "openai":
            return ModelSpec(kind="openai", model=m.upstream, base_url=m.base_url)
        if m.merged:
            return ModelSpec(kind="hf", path=str(folder / m.merged))
        return ModelSpec(kind="hf", path=m.base, adapter=str(folder / m.adapter) if m.adapter else None)


class DeployResult(BaseModel):
    """What `tunewise deploy` wrote, and the commands that serve it."""

    model_config = ConfigDict(frozen=True)

    out: str = Field(description="The deployment folder.")
    name: str = Field(description="The model id `tunewise serve` answers to.")
    kind: Literal["hf", "openai"]
    model: str = Field(description="What generates: base + adapter, the merged folder, or the upstream model.")
    collection: str
    chunks: int = Field(description="Passages in the collection now.")
    embedder: str
    k: int
    content_hash: str
    files: list[str] = Field(description="Files written, relative to the folder.")
    modelfile: str | None = Field(description="Ollama Modelfile (local models).")
    vllm_command: str | None = Field(description="`vllm serve` command line (local models).")
    vllm_notes: list[str] = Field(
        default_factory=list, description="How the model meets vLLM: its rank, a merge and why, a 16-bit base."
    )
    serve_command: str = Field(description="How to serve this deployment with tunewise.")
    warnings: list[str] = Field(default_factory=list)
    budget: ContextBudget | None = Field(
        default=None,
        description="A typical request against the model's context window (local models whose window is known).",
    )


def content_hash(deployment: dict) -> str:
    """Return the sha256 of deployment.json's fields but created_at and content_hash (canonical JSON): same inputs,
    same hash.
    """
    body = {k: v for k, v in deployment.items() if k not in ("created_at", "content_hash")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    """Return the sha256 of every file under `folder` but deployment.json, by POSIX path relative to it."""
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def load_deployment(folder: Path, *, verify: bool = True) -> Deployment:
    """Read DIR/deployment.json; with `verify`, refuse it if it or any file it lists changed since `tunewise deploy`."""
    path = Path(folder) / MANIFEST
    hint = "write one with `tunewise deploy --model SPEC --collection NAME --out DIR`"
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TunewiseError("no deployment.json here", path=str(path), hint=hint) from None
    except json.JSONDecodeError as exc:
        raise TunewiseError(f"not valid JSON ({exc.msg})", path=str(path), line=exc.lineno, hint=hint) from None
    except OSError as exc:
        raise TunewiseError(f"cannot read it ({exc.strerror or exc})", path=str(path)) from None
    try:
        deployment = Deployment.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise TunewiseError(f"{where}: {first['msg']}", path=str(path), hint=hint) from None
    if deployment.format != FORMAT:
        raise TunewiseError(
            f"deployment format {deployment.format}, this tunewise reads {FORMAT}",
            path=str(path),
            hint="re-run `tunewise deploy`",
        )
    if verify:
        redo = "re-run `tunewise deploy` to record the change"
        if content_hash(raw) != deployment.content_hash:
            raise TunewiseError(
                "edited since `tunewise deploy` wrote it (content hash differs)", path=str(path), hint=redo
            )
        for rel, sha in deployment.files.items():
            file = Path(folder) / rel
            if not file.is_file() or file_sha256(file) != sha:
                raise TunewiseError("changed or missing since `tunewise deploy`", path=str(file), hint=redo)
    return deployment


def _check_out(out: Path) -> None:
    # The folder is replaced whole, so it must be ours to replace: a typo in --out must never delete a user's files.
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise TunewiseError(
            "exists and is not a tunewise deployment; refusing to replace it",
            path=str(out),
            hint="choose a new or empty --out folder",
        )


def _system_prompt(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text("utf-8").strip()
    except FileNotFoundError:
        raise TunewiseError("system prompt file not found", path=str(path), hint="check --system-prompt-file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TunewiseError(
            f"cannot read the system prompt ({exc})", path=str(path), hint="save it as UTF-8 text"
        ) from None
    if not text:
        raise TunewiseError(
            "the system prompt file is empty", path=str(path), hint="write the prompt, or drop the option"
        )
    return text


def _retrieval(inp: DeployInput, client: ClientAPI) -> tuple[DeployedRetrieval, int]:
    from tools.rag.collection import collection_embedder

    built_with = collection_embedder(client, inp.collection)
    if not built_with:
        raise TunewiseError(
            f"collection '{inp.collection}' records no embedder, so it cannot be searched",
            hint=f"rebuild it with `tunewise index PATH --collection {inp.collection}`",
        )
    if not (built_with.startswith("local:") or built_with.startswith("openai:")):
        raise TunewiseError(
            f"collection '{inp.collection}' was built with {built_with}, which `tunewise serve` cannot load",
            hint="index with --embedder local or openai:MODEL",
        )
    chunks = client.get_collection(inp.collection, embedding_function=None).count()
    db = str(inp.db.expanduser().resolve()) if inp.db is not None else None
    return DeployedRetrieval(
        collection=inp.collection, db=db, chroma_url=inp.chroma_url, embedder=built_with, k=inp.k, mode=inp.mode
    ), chunks


def serving_flows(spec: ModelSpec, embedder: str, policy: EndpointPolicy) -> list[DataFlow]:
    """Return where a deployment sends each request's data: the question and retrieved passages to its model, and
    the question to its embedder (`local` embeds on the serving machine).
    """
    from tools.privacy.destinations import flow, here

    what = "every question and its retrieved passages at serve time"
    query = "every question, embedded at serve time"
    return [flow(spec, what, policy), here(query) if embedder == "local" else flow(embedder, query, policy)]


def _base_folder(name: str) -> Path:
    given = Path(name).expanduser()
    if given.is_dir():
        return given.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))  # never the network: the cache or nothing
    except Exception as exc:  # not a repo id, not cached, no huggingface_hub: one answer, the kind named in it
        raise TunewiseError(
            f"base model '{name}' is neither a folder nor in the Hugging Face cache ({type(exc).__name__})",
            hint="pass the model's folder, or download it first with `hf download NAME`",
        ) from exc


def _stops(tokenizer: Any, template: str, gen_dir: Path) -> list[str]:
    """End of turn first, then every eos the generation config and tokenizer name: where the trained model stops."""
    from transformers import GenerationConfig

    from tools.train.data import end_of_turn

    try:
        eos = GenerationConfig.from_pretrained(str(gen_dir)).eos_token_id
    except OSError:  # no generation_config.json
        eos = None
    try:
        eot = end_of_turn(tokenizer, template)
    except Exception:  # a template that rejects the probe conversation has no marker we can find
        eot = None
    ids = eos if isinstance(eos, (list, tuple)) else [eos]
    found = [
        eot.text if eot else None,
        *(tokenizer.convert_ids_to_tokens(i) for i in ids if i is not None),
        tokenizer.eos_token,
    ]
    return [s for s in dict.fromkeys(found) if s]


def _package_local(
    spec: ModelSpec,
    tmp: Path,
    out: Path,
    *,
    merge: bool,
    progress: Progress,
    warnings: list[str],
    check: Callable[..., None],
    tensor_parallel: int | None = None,
    vllm_notes: list[str] | None = None,
) -> tuple[DeployedModel, str, str]:
    """Copy or merge the adapter into `tmp`, write the template, Modelfile and vllm.sh; (model, description, vllm).

    An adapter vLLM would refuse is merged (tools/deploy/vllm_fit.py); `vllm_notes` hears what applied.
    """
    from transformers import AutoTokenizer

    from tools.atomic import write_text
    from tools.models.spec import adapter_dir, base_model
    from tools.train import export
    from tools.train.data import named_template

    base_name = base_model(spec)
    base = _base_folder(base_name)
    base_ref = str(base) if Path(base_name).expanduser().is_dir() else base_name
    adapter = adapter_dir(spec)
    has = lambda name: adapter is not None and (adapter / name).is_file()  # noqa: E731
    source = adapter if has("tokenizer_config.json") else base
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        raise TunewiseError(f"cannot load the tokenizer ({str(exc).splitlines()[0]})", path=str(source)) from None
    template = tokenizer.chat_template
    if not isinstance(template, str) or not template:
        template = named_template("plain")  # what tools.models.generation falls back to as well
        warnings.append("the model has no chat template; prompts are rendered with prompts/plain.jinja")
    check(tokenizer=tokenizer, template=template, model_dir=base)  # before any copying or merging
    stops = _stops(tokenizer, template, adapter if adapter is not None and has("generation_config.json") else base)
    rank = None
    if adapter is not None:
        config = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
        rank = int(config.get("r") or 0) or None
        trained_on = config.get("base_model_name_or_path")
        if spec.path and trained_on and trained_on != base_name and _base_folder_or_none(trained_on) != base:
            warnings.append(f"the adapter was trained on {trained_on} but is deployed on {base_name}")
    write_text(tmp / "chat_template.jinja", template)
    name = out.name
    vfit = vllm_fit.fit(adapter, base_ref, base)
    if vllm_notes is not None:
        vllm_notes.extend(vfit.notes)
    if vfit.merge and not merge:
        merge = True  # one deployment for both engines: merged, rather than an adapter vLLM refuses at serve time
    extra = {"vllm_base": vfit.base if vfit.base != base_ref else None, "tensor_parallel": tensor_parallel}
    if merge:
        import torch

        assert adapter is not None  # run() refuses --merge without +adapter, and adapter_dir() found it or raised
        from transformers.utils import logging as hf_logging

        progress(Update(message="merging the adapter into a 16-bit copy of the base model"))
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a weight-loading bar would break into the command's own output
        try:
            export.merge(str(base), adapter, tmp / "merged", cuda=torch.cuda.is_available())
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        model = DeployedModel(kind="hf", merged="merged", chat_template=template, stop=stops, lora_rank=rank, **extra)
        described, source_lines = f"{base_ref} with the adapter merged in (merged/)", ["FROM ./merged"]
        vllm = ["vllm", "serve", str(out / "merged"), "--served-model-name", name]
    elif adapter is not None:
        shutil.copytree(adapter, tmp / "adapter")
        model = DeployedModel(
            kind="hf", base=base_ref, adapter="adapter", chat_template=template, stop=stops, lora_rank=rank, **extra
        )
        described, source_lines = f"{base_ref} + LoRA adapter (adapter/)", [f"FROM {base}", "ADAPTER ./adapter"]
        ceiling = vllm_fit.max_lora_rank(rank)
        vllm = [
            "vllm",
            "serve",
            vfit.base,
            "--enable-lora",
            "--lora-modules",
            f"{name}={out / 'adapter'}",
            "--max-lora-rank",
            str(ceiling),
        ]
    else:
        model = DeployedModel(kind="hf", base=base_ref, chat_template=template, stop=stops, **extra)
        described, source_lines = base_ref, [f"FROM {base}"]
        vllm = ["vllm", "serve", vfit.base, "--served-model-name", name]
    vllm += ["--chat-template", str(out / "chat_template.jinja")]
    if tensor_parallel and tensor_parallel > 1:
        vllm += ["--tensor-parallel-size", str(tensor_parallel)]
    command = shlex.join(vllm)

    def render(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    lines = [f"# Built by tunewise deploy; import with: ollama create {name} -f Modelfile", *source_lines]
    try:
        lines.append(f'TEMPLATE """{export.go_template(render)}"""')
    except Exception as exc:  # a template Go cannot express: Ollama falls back to the model's own
        warnings.append(f"Modelfile written without TEMPLATE ({exc})")
    lines += ['PARAMETER stop "{}"'.format(s.replace("\\", "\\\\").replace('"', '\\"')) for s in stops]
    write_text(tmp / "Modelfile", "\n".join(lines) + "\n")
    write_text(
        tmp / "vllm.sh",
        "#!/bin/sh\n# Built by tunewise deploy: vLLM's OpenAI-compatible server for this model.\n"
        f'exec {command} "$@"\n',
    )
    (tmp / "vllm.sh").chmod(0o755)
    return model, described, command


def _base_folder_or_none(name: str) -> Path | None:
    try:
        return _base_folder(name)
    except TunewiseError:
        return None


def run(inp: DeployInput, *, client: ClientAPI, progress: Progress | None = None) -> DeployResult:
    """Write a deployment folder that serves a model with retrieval from a collection over an OpenAI-style API.

    `progress` hears what it is doing, in words (`message`), before each slow part.
    """
    from tools.models.spec import base_model, parse_spec

    progress = progress or silent
    spec = parse_spec(inp.model)
    if spec.prompted:
        raise UsageError(
            "+prompted adds few-shot examples from a train file, which a deployment does not have",
            hint="drop +prompted and pass the instructions with --system-prompt-file",
        )
    if inp.merge and (spec.kind != "hf" or spec.adapter is None):
        raise UsageError("--merge needs a local model with an adapter (hf:BASE+adapter:RUN)")
    out = inp.out.expanduser().resolve()
    _check_out(out)
    system_prompt = _system_prompt(inp.system_prompt_file)
    retrieval, chunks = _retrieval(inp, client)
    if inp.private:  # before anything is written: a private deployment never names a hosted endpoint
        from tools.privacy.destinations import EndpointPolicy, refuse_hosted

        refuse_hosted("deploy", serving_flows(spec, retrieval.embedder_spec, EndpointPolicy.from_env()))
    warnings = [] if chunks else [f"collection '{inp.collection}' is empty: answers will come without context"]

    context: ContextBudget | None = None
    vllm_notes: list[str] = []
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if spec.kind == "openai":
            model = DeployedModel(kind="openai", upstream=spec.model, base_url=spec.base_url)
            described, vllm = f"openai:{spec.model}" + (f" at {spec.base_url}" if spec.base_url else ""), None
        else:
            progress(Update(message="reading the model's tokenizer and chat template"))

            def check(**model: Any) -> None:
                nonlocal context
                from tools.deploy import context_budget as deploy_budget

                context = deploy_budget.check(
                    **model,
                    system_prompt=system_prompt,
                    k=inp.k,
                    warnings=warnings,
                    collection=client.get_collection(inp.collection, embedding_function=None),
                    model_name=base_model(spec),
                )

            model, described, vllm = _package_local(
                spec,
                tmp,
                out,
                merge=inp.merge,
                progress=progress,
                warnings=warnings,
                check=check,
                tensor_parallel=inp.tensor_parallel,
                vllm_notes=vllm_notes,
            )
        record = Deployment(
            name=out.name,
            spec=inp.model,
            model=model,
            retrieval=retrieval,
            system_prompt=system_prompt,
            private=inp.private,
            files=folder_hashes(tmp),
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            content_hash="",
        ).model_dump(mode="json")
        record["content_hash"] = content_hash(record)
        from tools.atomic import write_json
        from tools.train.export import replace_dir

        write_json(tmp / MANIFEST, record)  # written last: a folder holding it is complete
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted([*record["files"], MANIFEST])
    return DeployResult(
        out=str(out),
        name=out.name,
        kind=spec.kind,
        model=described,
        collection=inp.collection,
        chunks=chunks,
        embedder=retrieval.embedder,
        k=inp.k,
        content_hash=record["content_hash"],
        files=files,
        modelfile=str(out / "Modelfile") if "Modelfile" in files else None,
        vllm_command=vllm,
        vllm_notes=vllm_notes,
        serve_command=shlex.join(["tunewise", "serve", str(out)]),
        warnings=warnings,
        budget=context,
    )
