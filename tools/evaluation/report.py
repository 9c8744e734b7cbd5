"""The evaluation's files: report.json (everything), report.md (for a pull request), report.html (charts embedded as
base64 PNGs, every example readable) and outputs.jsonl (one line per example with each candidate's output).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.atomic import atomic_open, write_json, write_text
from tools.evaluation.metrics import METRICS, Profile, habits, words

if TYPE_CHECKING:
    from tools.dataset.formats import ChatExample
    from tools.evaluation.bootstrap import Comparison
    from tools.evaluation.schema import EvalInput, EvalResult, MetricValue
    from tools.models.generation import Generation


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}" if METRICS[metric].points else f"{value:.2f}"


def cell(metric: str, mv: MetricValue) -> str:
    """Format a metric's mean and 95% interval as the tables show it: "mean [low, high]", points where it is a rate."""
    return f"{_fmt(metric, mv.mean)} [{_fmt(metric, mv.low)}, {_fmt(metric, mv.high)}]"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _charts(result: EvalResult, lengths: dict[str, list[int]]) -> list[tuple[str, str]]:
    """Return (title, base64 PNG) pairs: one bar chart per metric with its intervals, then the output-length distributions."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend, safe in any thread

    charts = []
    names = [c.name for c in result.candidates]
    for metric in result.candidates[0].metrics:
        scale = 100.0 if METRICS[metric].points else 1.0
        values = [c.metrics[metric] for c in result.candidates]
        means = [(v.mean or 0.0) * scale for v in values]
        err = [
            [max(0.0, m - (v.low if v.low is not None else (v.mean or 0.0)) * scale) for m, v in zip(means, values)],
            [max(0.0, (v.high if v.high is not None else (v.mean or 0.0)) * scale - m) for m, v in zip(means, values)],
        ]
        fig = Figure(figsize=(1.6 + 1.1 * len(names), 3.0))
        ax = fig.add_subplot()
        ax.bar(names, means, yerr=err, capsize=6, color="#4C72B0")
        label = METRICS[metric].label + (" (points)" if METRICS[metric].points else "")
        ax.set_title(label + ("" if METRICS[metric].better is None else f", {METRICS[metric].better} is better"))
        ax.tick_params(axis="x", labelrotation=20)
        if METRICS[metric].points:
            ax.set_ylim(min(0.0, min(m - e for m, e in zip(means, err[0]))), 105)
        charts.append((METRICS[metric].label, _png(fig)))
    fig = Figure(figsize=(7.0, 3.2))
    ax = fig.add_subplot()
    series = list(lengths.values())
    ax.boxplot(series, showmeans=True)
    ax.set_xticks(range(1, len(series) + 1), list(lengths), rotation=20)
    ax.set_ylabel("words")
    ax.set_title("output length (words)")
    charts.append(("output length", _png(fig)))
    return charts


def write_reports(
    inp: EvalInput,
    result: EvalResult,
    *,
    examples: list[ChatExample],
    generations: dict[str, list[Generation]],
    per_example: dict[str, dict[str, list[float]]],
    comparisons: list[Comparison],
    ranked: list[str],
    profile: Profile,
    warnings: list[str],
    prompted: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> None:
    """Write every report file into `inp.out` (each atomically); outputs.jsonl first, the summary files last."""
    out = Path(inp.out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(generations)
    records = []
    for i, ex in enumerate(examples):
        records.append(
            {
                "line": ex.line,
                "question": next(
                    (m.get("content") or "" for m in reversed(ex.prompt_messages) if m["role"] == "user"), ""
                ),
                "reference": ex.reference,
                "outputs": {
                    name: {
                        **generations[name][i].model_dump(),
                        "metrics": {
                            m: (None if v[i] != v[i] else round(v[i], 4)) for m, v in per_example[name].items()
                        },
                    }
                    for name in names
                },
            }
        )
    with atomic_open(out / "outputs.jsonl") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    lengths = {"reference": [len(words(ex.reference)) for ex in examples]}
    lengths.update({name: [len(words(g.text)) for g in generations[name]] for name in names})
    usage = {
        name: {
            "prompt_tokens": sum(g.prompt_tokens for g in gens),
            "completion_tokens": sum(g.completion_tokens for g in gens),
            "hit_max_new_tokens": sum(g.finish_reason == "length" for g in gens),
        }
        for name, gens in generations.items()
    }
    habit_rates = {}
    for name, texts in [("reference", [ex.reference for ex in examples])] + [
        (n, [g.text for g in generations[n]]) for n in names
    ]:
        hs = [habits(t) for t in texts]
        habit_rates[name] = {
            "summary_line": sum(h["summary_line"] for h in hs) / len(hs),
            "bullets": sum(h["list_style"] == "bullets" for h in hs) / len(hs),
            "numbered": sum(h["list_style"] == "numbered" for h in hs) / len(hs),
            "sign_off": sum(h["sign_off"] for h in hs) / len(hs),
        }
    summary = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inp.model_dump(mode="json"),
        "examples": len(examples),
        "references": {"json": profile.json, "labels": profile.labels, "schema": inp.schema_path is not None},
        **result.model_dump(mode="json"),
        "ranking": ranked,
        "comparisons": [
            {
                "a": c.a,
                "b": c.b,
                "metric": c.metric,
                "diff": round(c.diff, 4),
                "low": round(c.low, 4),
                "high": round(c.high, 4),
                "significant": c.significant,
            }
            for c in comparisons
        ],
        "metrics": {
            m: {"label": METRICS[m].label, "better": METRICS[m].better, "points": METRICS[m].points}
            for m in result.candidates[0].metrics
        },
        "usage": usage,
        "habits": habit_rates,
        "prompted": prompted,
        "context": context or {},
        "warnings": warnings,
        "files": {"outputs": "outputs.jsonl", "markdown": "report.md", "html": "report.html"},
    }
    write_text(out / "report.md", _markdown(result, summary, records))
    write_text(out / "report.html", _html(result, summary, records, _charts(result, lengths)))
    write_json(out / "report.json", summary)


def _table_rows(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    metrics = list(result.candidates[0].metrics)
    head = ["candidate", "spec", "n"] + [METRICS[m].label for m in metrics]
    rows = [[c.name, c.spec, str(c.n)] + [cell(m, c.metrics[m]) for m in metrics] for c in result.candidates]
    return head, rows


def _significant(summary: dict) -> list[str]:
    lines = []
    for c in summary["comparisons"]:
        if c["significant"]:
            ahead = c["diff"] > 0
            better, worse = (c["a"], c["b"]) if ahead else (c["b"], c["a"])
            low, high = (c["low"], c["high"]) if ahead else (-c["high"], -c["low"])
            scale = 100 if summary["metrics"][c["metric"]]["points"] else 1
            lines.append(
                f"{better} over {worse} on {summary['metrics'][c['metric']]['label']}: "
                f"{abs(c['diff']) * scale:.1f} [{low * scale:.1f}, {high * scale:.1f}]"
            )
    return lines


def _markdown(result: EvalResult, summary: dict, records: list[dict]) -> str:
    head, rows = _table_rows(result)
    md = [
        f"# Evaluation: {summary['examples']} held-out examples",
        "",
        f"**Verdict:** {result.verdict}",
        *([f"**Did fine-tuning earn its cost?** {result.gap['sentence']}"] if result.gap else []),
        "",
        f"Winner: {result.winner or 'none stands out'}. Rates are points out of 100 with bootstrap 95% intervals.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    md += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    md += ["", "## Significant differences", ""] + [f"- {line}" for line in _significant(summary) or ["none"]]
    if summary["warnings"]:
        md += ["", "## Warnings", ""] + [f"- {w}" for w in summary["warnings"]]
    md += ["", "## First examples", "", "All outputs: outputs.jsonl and report.html.", ""]
    for rec in records[:5]:
        md += [
            f"### line {rec['line']}",
            "",
            f"**Question:** {rec['question']}",
            "",
            f"**Reference:** {rec['reference']}",
            "",
        ]
        md += [f"- **{name}:** {o['text']}" for name, o in rec["outputs"].items()] + [""]
    return "\n".join(md) + "\n"


def _html(result: EvalResult, summary: dict, records: list[dict], charts: list[tuple[str, str]]) -> str:
    e = html.escape
    head, rows = _table_rows(result)
    table = (
        "<table><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
        + "</table>"
    )
    imgs = "".join(
        f'<figure><img alt="{e(title)}" src="data:image/png;base64,{png}"><figcaption>{e(title)}</figcaption></figure>'
        for title, png in charts
    )
    diffs = "".join(f"<li>{e(line)}</li>" for line in _significant(summary)) or "<li>none</li>"
    warns = "".join(f"<li>{e(w)}</li>" for w in summary["warnings"])
    items = []
    for rec in records:
        outs = "".join(f"<dt>{e(name)}</dt><dd><pre>{e(o['text'])}</pre></dd>" for name, o in rec["outputs"].items())
        items.append(
            f"<details><summary>line {rec['line']}: {e(rec['question'][:120])}</summary>"
            f"<dl><dt>question</dt><dd><pre>{e(rec['question'])}</pre></dd><dt>reference</dt>"
            f"<dd><pre>{e(rec['reference'])}</pre></dd>{outs}</dl></details>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}"
        "figure{display:inline-block;margin:0.5em}pre{white-space:pre-wrap;margin:0}.verdict{font-size:120%}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>tunewise eval</title>'
        f"<style>{style}</style></head><body><h1>Evaluation: {summary['examples']} held-out examples</h1>"
        f'<p class="verdict"><strong>Verdict:</strong> {e(result.verdict)}</p>'
        + (f"<p><strong>Did fine-tuning earn its cost?</strong> {e(result.gap['sentence'])}</p>" if result.gap else "")
        + f"<p>Winner: {e(result.winner or 'none stands out')}. Rates are points out of 100 with bootstrap 95% intervals.</p>"
        f"{table}<h2>Significant differences</h2><ul>{diffs}</ul>"
        + (f"<h2>Warnings</h2><ul>{warns}</ul>" if warns else "")
        + f"<h2>Charts</h2>{imgs}<h2>Every example</h2>{''.join(items)}</body></html>\n"
    )
