"""`tunewise validate`: stream a training file and report every problem, its tokens and its cost, before any spend."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.dataset.scan import MINHASHES, Scan, ScanConfig, ScanLimits, scan_range
from tools.defaults import DEFAULT_FINE_TUNE_MODEL
from tools.errors import TunewiseError

if TYPE_CHECKING:
    from array import array

PARALLEL_MIN_BYTES = 8 * 1024 * 1024  # below this, starting a second process costs more than it saves


class ValidateInput(BaseModel):  # noqa: D101 - a docstring would become its JSON-schema description, sent to the LLM
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(
        description="Training file: OpenAI chat or preference JSONL, Alpaca (JSON or JSONL) or ShareGPT."
    )
    model: str = Field(
        default=DEFAULT_FINE_TUNE_MODEL,
        description="Target model: picks the tokenizer, the per-example limit and the price.",
    )
    format: Literal["chat", "preference", "alpaca", "sharegpt"] | None = Field(
        default=None, description="Force a format instead of detecting it."
    )
    hosted: bool = Field(
        default=True, description="The data goes to a hosted API: secrets are errors rather than warnings."
    )
    max_issues: int = Field(default=1000, ge=1, description="Most errors and warnings listed; all are counted.")
    workers: int | None = Field(
        default=None, ge=1, description="Processes to use; default: 2 for large files on 2+ cores."
    )


class Issue(BaseModel):
    """One error or warning: the line it is on, its code and its message."""

    model_config = ConfigDict(frozen=True)
    line: int = Field(description="1-based line in the file.")
    code: str
    message: str


class Distribution(BaseModel):
    """Tokens per valid example: least, mean, median (p50), 95th percentile and most."""

    model_config = ConfigDict(frozen=True)
    min: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    max: int = 0


class TokenStats(BaseModel):
    """The valid examples' tokens: billed per epoch, trained on, and their spread per example."""

    model_config = ConfigDict(frozen=True)
    total: int = Field(
        description="Tokens in the valid examples, with per-message overhead: what OpenAI bills per epoch."
    )
    trained: int = Field(description="Tokens the model learns to produce (assistant messages with weight 1).")
    per_example: Distribution


class ValidateResult(BaseModel):
    """What `tunewise validate` found in one file: its examples, errors and warnings, tokens and training cost."""

    model_config = ConfigDict(frozen=True)
    path: str
    format: str
    model: str
    examples: int
    valid_examples: int
    errors: list[Issue]
    warnings: list[Issue]
    tokens: TokenStats
    estimated_training_cost_usd: float = Field(
        description="Tokens x OpenAI's default epochs x the model's training price."
    )
    epochs: int = Field(description="Epochs the estimate assumes (OpenAI's auto heuristic).")
    error_counts: dict[str, int]
    warning_counts: dict[str, int]
    messages_per_example: float
    assistant_token_share: float
    length_histogram: list[tuple[int, int, int]] = Field(
        description="(low, high, count) buckets of tokens per example."
    )
    price_source: str
    near_duplicates_searched: int = Field(
        default=0, description="Valid examples, from the first, whose user turns were searched for near-duplicates."
    )
    near_duplicate_horizon: int | None = Field(
        default=None,
        description="First line not searched for near-duplicates (a file past tools.dataset.scan.NEAR_DUP_LIMIT examples); None: the whole file was.",
    )

    @property
    def ok(self) -> bool:
        """True when the file has no errors (warnings do not count)."""
        return not self.errors


def _first_record_format(path: Path) -> str:
    """Detect the format from the first parsable record (JSON arrays are Alpaca or ShareGPT)."""
    import json
    from itertools import islice

    from tools.dataset.formats import detect_format, is_json_array, iter_json_array

    if is_json_array(path):
        try:  # the first elements, streamed: an array's lines end in commas and do not parse one by one
            for _, record in islice(iter_json_array(path), 50):
                if fmt := detect_format(record):
                    return fmt
        except TunewiseError:
            pass  # a broken array is reported by the scan itself
        return "alpaca"
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            raw = raw.lstrip(b"\xef\xbb\xbf").strip()
            if not raw:
                continue
            try:
                fmt = detect_format(json.loads(raw))
            except ValueError:
                fmt = None
            if fmt:
                return fmt
            if n >= 50:
                break
    return "chat"  # report problems against the most common format rather than refusing


def _check_path(path: Path) -> None:
    if not path.exists():
        raise TunewiseError("file not found", path=str(path), hint="check the path")
    if path.is_dir():
        raise TunewiseError(
            "is a directory, not a training file", path=str(path), hint="pass the .jsonl file inside it"
        )
    if not path.is_file():
        return  # a pipe: opening it to test it would lose data (or the writer); spooling it reports any error
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise TunewiseError(f"cannot read the file ({exc.strerror})", path=str(path)) from None


@contextlib.contextmanager
def _spooled(path: Path) -> Iterator[Path]:
    """Yield a temporary regular-file copy of a stream, removed afterwards."""
    import shutil
    import tempfile

    fd, name = tempfile.mkstemp(prefix="tunewise-validate-", suffix=".jsonl")
    try:
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        except OSError as exc:
            raise TunewiseError(f"cannot read the stream ({exc.strerror or exc})", path=str(path)) from None
        yield Path(name)
    finally:
        os.unlink(name)


def _ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Split the file into `parts` byte ranges that start at line boundaries."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for i in range(1, parts):
            fh.seek(size * i // parts)
            fh.readline()
            cuts.append(max(fh.tell(), cuts[-1]))
    cuts.append(size)
    return list(zip(cuts, cuts[1:]))


def _scan_file(path: Path, cfg: ScanConfig, workers: int) -> Scan:
    size = path.stat().st_size
    if workers <= 1 or not hasattr(os, "fork"):
        return scan_range(str(path), 0, size, cfg)
    import numpy  # noqa: F401 - imported before the fork, so that no child imports anything

    from tools.dataset.parallel_scan import ForkedScan
    from tools.tokens import get_encoding

    get_encoding(cfg.encoding_name)  # load once here; the forked children inherit it
    ranges = _ranges(path, workers)
    children = [ForkedScan.start(str(path), a, b, cfg) for a, b in ranges[1:]]
    try:
        merged = scan_range(str(path), *ranges[0], cfg)
        for child in children:
            child.merge_into(merged, cfg.limits.near_dup_limit)
    finally:
        for child in children:
            child.close()
    return merged


def _distribution(values: array) -> Distribution:
    import numpy as np

    if len(values) == 0:
        return Distribution()
    arr = np.frombuffer(values, dtype=values.typecode)
    p50, p95 = np.percentile(arr, [50, 95])
    return Distribution(
        min=int(arr.min()), mean=round(float(arr.mean()), 1), p50=float(p50), p95=float(p95), max=int(arr.max())
    )


def _histogram(values: array, buckets: int = 8) -> list[tuple[int, int, int]]:
    import numpy as np

    if len(values) == 0:
        return []
    arr = np.frombuffer(values, dtype=values.typecode)
    edges = np.unique(np.geomspace(max(arr.min(), 1), max(arr.max(), 2), buckets + 1).astype(np.int64))
    counts, edges = np.histogram(arr, bins=edges)
    return [(int(lo), int(hi), int(c)) for lo, hi, c in zip(edges[:-1], edges[1:], counts)]


def collect(inp: ValidateInput, *, limits: ScanLimits | None = None) -> tuple[str, Scan]:
    """Run the streaming pass alone and return (format, scan). `split` reuses it for the near-duplicate clusters."""
    from tools.costs.catalog import openai_catalog
    from tools.dataset.formats import is_json_array

    path = Path(inp.path)
    _check_path(path)
    if not path.is_file():
        raise TunewiseError(
            "not a regular file (a pipe or a device): this needs to read the data more than once",
            path=str(path),
            hint="save the data to a file first",
        )
    info = openai_catalog().model(inp.model)
    fmt = inp.format or _first_record_format(path)
    cfg = ScanConfig(
        fmt=fmt,
        encoding_name=info.encoding,
        max_example_tokens=info.max_example_tokens,
        hosted=inp.hosted,
        max_issues=inp.max_issues,
        limits=limits or ScanLimits(),
    )
    if fmt in ("alpaca", "sharegpt") and is_json_array(path):
        from tools.dataset.formats import iter_json_array
        from tools.dataset.scan import scan_records

        # A JSON-array file (Alpaca/ShareGPT exports): its elements stream through the same checks as lines.
        return fmt, scan_records(iter_json_array(path, with_text=True), cfg)
    workers = inp.workers or (2 if path.stat().st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1 else 1)
    return fmt, _scan_file(path, cfg, workers)


def run(inp: ValidateInput, *, limits: ScanLimits | None = None) -> ValidateResult:
    """Check a fine-tuning data file for errors and quality problems, count its tokens and price its training."""
    from tools.costs.catalog import openai_catalog
    from tools.costs.epochs import openai_default_epochs
    from tools.dataset import quality

    path = Path(inp.path)
    if path.exists() and not path.is_dir() and not path.is_file():
        # `... | tunewise validate /dev/stdin`: the scan sniffs, then seeks, so a stream is spooled first.
        import stat

        mode = path.stat().st_mode
        if not stat.S_ISFIFO(mode) and not stat.S_ISSOCK(mode):
            raise TunewiseError(
                "neither a regular file nor a pipe (a device?)",
                path=str(path),
                hint="pass a .jsonl file, or pipe the data in: cat FILE | tunewise validate /dev/stdin",
            )
        with _spooled(path) as copy:
            return run(inp.model_copy(update={"path": copy}), limits=limits).model_copy(update={"path": str(path)})
    catalog = openai_catalog()
    info = catalog.model(inp.model)
    fmt, scan = collect(inp, limits=limits)
    epochs = openai_default_epochs(scan.valid)
    price = info.training / 1_000_000
    found, totals = quality.findings(scan, price_per_token=price, epochs=epochs, cap=inp.max_issues)
    for f in found:
        scan.add(f.line, "warning", f.code, f.message, inp.max_issues)
    for code, total in totals.items():  # the findings past the cap are counted, not spelled out
        key = ("warning", code)
        scan.counts[key] = scan.counts.get(key, 0) + total - sum(1 for f in found if f.code == code)
    if scan.valid < catalog.min_examples:
        scan.add(
            1,
            "error",
            "too_few_examples",
            f"{scan.valid} valid examples; OpenAI requires at least {catalog.min_examples} (and 50-100 to see a change)",
            inp.max_issues,
        )
    elif scan.valid < catalog.recommended_min_examples:
        scan.add(
            1,
            "warning",
            "few_examples",
            f"only {scan.valid} valid examples; 50-100 is the usual minimum for a behaviour change",
            inp.max_issues,
        )
    issues = sorted(scan.issues, key=lambda i: (i[0], i[2]))
    searched = len(scan.ex_minhash) // MINHASHES
    horizon = scan.ex_line[searched] if searched < len(scan.ex_line) else None
    return ValidateResult(
        path=str(path),
        format=fmt,
        model=inp.model,
        examples=scan.examples,
        valid_examples=scan.valid,
        errors=[Issue(line=ln, code=c, message=m) for ln, s, c, m in issues if s == "error"],
        warnings=[Issue(line=ln, code=c, message=m) for ln, s, c, m in issues if s == "warning"],
        tokens=TokenStats(
            total=scan.tokens_total, trained=scan.tokens_trained, per_example=_distribution(scan.ex_tokens)
        ),
        estimated_training_cost_usd=round(scan.tokens_total * epochs * price, 4),
        epochs=epochs,
        error_counts={c: n for (s, c), n in sorted(scan.counts.items()) if s == "error"},
        warning_counts={c: n for (s, c), n in sorted(scan.counts.items()) if s == "warning"},
        messages_per_example=round(scan.messages_total / scan.valid, 2) if scan.valid else 0.0,
        assistant_token_share=round(scan.tokens_trained / scan.tokens_total, 4) if scan.tokens_total else 0.0,
        length_histogram=_histogram(scan.ex_tokens),
        price_source=f"OpenAI pricing as of {catalog.date}, tools/data/openai.json",
        near_duplicates_searched=searched,
        near_duplicate_horizon=horizon,
    )
