"""Keep third-party start-up noise off the terminal: the commands print their own lines, the libraries write a log.

torchao ("Failed to load ..._C_mxfp8...so"), torch's pytree deprecations and bitsandbytes ("Failed to load CPU
gemm_4bit_forward from kernels-community") all speak through `logging` while they are imported; the tqdm bars of
transformers, datasets and trl are switched off through the environment. Records from
loggers without a handler reach the root logger, which gets a file handler here; torch and transformers attach
their own stderr handlers when they are imported, so those are swapped for the file handler right after their
import (a one-shot import hook), before anything of theirs can log. Python warnings go to the same file.
`--verbose` (or TUNEWISE_VERBOSE=1) leaves all of it on the terminal.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
# Progress bars are not log records: transformers ("Loading weights"), datasets and trl ("Truncating train
# dataset") draw tqdm bars straight onto stderr. Each library reads its switch from the environment when it is
# imported, and tqdm 4.66+ reads TQDM_* defaults on every bar, so setting them here also quiets the training
# worker and the accelerate processes, which inherit the environment. Our own progress is drawn with rich.
NO_BARS = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Run `hook` once, right after the top-level module `name` has been imported."""

    def __init__(self, name: str, hook: Callable[[], None]) -> None:
        self.name, self.hook = name, hook

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; also keeps find_spec below from finding this finder again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, hook = spec.loader, self.hook

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: ModuleSpec) -> ModuleType | None:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                loader.exec_module(module)
                hook()

        spec.loader = _Loader()
        return spec


def _to_file(handler: logging.Handler, prefix: str) -> None:
    """Replace the stderr handlers of the loggers under `prefix` with `handler`."""
    names = [prefix] + [n for n in logging.root.manager.loggerDict if n.startswith(prefix + ".")]
    for name in names:
        logger = logging.getLogger(name)
        streams = [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler)
            and not isinstance(h, logging.FileHandler)
            and getattr(h, "stream", None) in (sys.stderr, sys.__stderr__)
        ]
        for h in streams:
            logger.removeHandler(h)
        if streams and handler not in logger.handlers:
            logger.addHandler(handler)


def _transformers(handler: logging.Handler) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_default_handler()
    hf_logging.add_handler(handler)


def quiet_start(log_file: Path) -> Path:
    """Send third-party log records and warnings to `log_file` (appended) instead of the terminal, and turn the
    libraries' progress bars off; return the log file.
    """
    import os

    for name, value in NO_BARS.items():
        os.environ.setdefault(name, value)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.root.addHandler(handler)
    logging.captureWarnings(True)  # warnings.warn(...) -> the "py.warnings" logger -> the root's file handler
    hooks = {"torch": lambda: _to_file(handler, "torch"), "transformers": lambda: _transformers(handler)}
    for name, hook in hooks.items():
        if name in sys.modules:
            hook()
        elif importlib.util.find_spec(name) is not None:
            sys.meta_path.insert(0, _AfterImport(name, hook))
    return log_file
