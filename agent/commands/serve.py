"""`tunewise serve DIR`: an OpenAI-compatible chat endpoint that retrieves, then answers with the deployed model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

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
    app = _start(deployment, say, api_key_env=api_key_env, log_prompts=log_prompts, limits=limits)
    if host not in LOOPBACK and not api_key_env:
        say(f"warning: serving on {host} without --api-key-env: anyone who can reach this port can use the model")
    name = app.state.engine.deployment.name
    shown = f"[{host}]" if ":" in host else host
    say(f"serving '{name}' at http://{shown}:{port}/v1 (model id '{name}'); Ctrl-C stops")
    import uvicorn

    # Our own line per request replaces uvicorn's access log, which would say less and could carry query strings.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


def _start(
    deployment: Path, say: Callable[[str], None], *, api_key_env: str | None, log_prompts: bool, limits: Limits
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
        generator, retriever = deployment_clients(deployment)
        return create_app(
            deployment,
            generator=generator,
            retriever=retriever,
            api_key_env=api_key_env,
            log_prompts=log_prompts,
            limits=limits,
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
