"""The demo's stage record (WORKDIR/demo.json) and its final HTML report.

demo.json is rewritten atomically after every finished stage, so whatever it lists as done is done and its
artefacts exist; a second `tunewise demo` in the same folder skips those stages. The options the folder was made
with are recorded too: a folder made by a --quick run is not silently finished as a full one.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.atomic import write_json, write_text
from tools.errors import TunewiseError, UsageError

STAGES = ["validate", "model", "plan", "split", "index", "train", "eval", "deploy", "serve", "report"]
RECORD = "demo.json"


class DemoOptions(BaseModel):
    """What one demo folder is made with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quick: bool = Field(description="Fewer training steps and eval examples: about 3 minutes on 2 CPU cores.")
    base_model: str | None = Field(
        description="A real base model (folder or cached Hub name); None: the smoke-test model."
    )


class DemoRecord:
    """WORKDIR/demo.json: the options, the agent session, and each finished stage with its time and artefacts."""

    def __init__(self, workdir: Path, options: DemoOptions) -> None:
        self.path = workdir / RECORD
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            data = {"options": options.model_dump(), "session": None, "stages": {}, "runs": []}
        except (OSError, ValueError) as exc:
            raise TunewiseError(
                f"cannot read the demo record ({exc})",
                path=str(self.path),
                hint="delete it (the demo starts over) or pick another --workdir",
            ) from None
        if data.get("options") != options.model_dump():
            raise UsageError(
                f"this folder holds a demo made with {data.get('options')}, not {options.model_dump()}",
                path=str(workdir),
                hint="run the demo with those options, or pick another --workdir",
            )
        self.data = data

    def done(self, stage: str) -> dict | None:
        """Return the entry of `stage` if it finished (done or skipped), else None."""
        entry = self.data["stages"].get(stage)
        return entry if entry and entry.get("status") in ("done", "skipped") else None

    def finish(self, stage: str, seconds: float, **info: Any) -> dict:
        """Record `stage` as finished after `seconds` (status from `info`, "done" by default; the rest of `info`
        is its artefacts and summary), save demo.json and return the entry.
        """
        entry = {
            "status": info.pop("status", "done"),
            "seconds": round(seconds, 1),
            **info,
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        self.data["stages"][stage] = entry
        write_json(self.path, self.data)
        return entry

    def set(self, key: str, value: Any) -> None:
        """Set a top-level `key` of the record and save demo.json."""
        self.data[key] = value
        write_json(self.path, self.data)

    def start_run(self) -> None:
        """Note the start of a run and the stages already done before it, and save demo.json."""
        self.data.setdefault("runs", []).append(
            {
                "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "stages_done_before": sorted(k for k in self.data["stages"] if self.done(k)),
            }
        )
        write_json(self.path, self.data)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def write_report(record: dict, out: Path, *, eval_report: dict | None, served: dict | None) -> Path:
    """One HTML page: what each stage did and how long it took, the plan, the scores, and the served answer."""
    stages = record.get("stages", {})
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>tunewise demo</title>",
        "<style>body{font:15px system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
        "text-align:left;vertical-align:top}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}"
        ".smoke{background:#fff3cd;padding:.8em;border:1px solid #e0c060}</style>",
        "<h1>tunewise demo: Larkspur Cycles, end to end</h1>",
    ]
    model = stages.get("model", {})
    if model.get("smoke_test"):
        parts.append(
            f"<p class='smoke'><b>SMOKE-TEST model.</b> The base model was built on this machine from a "
            f"config with random weights ({esc(model.get('base_model', ''))}), so every stage below ran end to end "
            f"but its answers and scores are noise. A real run shows the same stages with an answer in the house "
            f"style drawn from the cited help pages, and evaluation scores that compare the models for real: run "
            f"<code>tunewise demo --base-model HuggingFaceTB/SmolLM2-135M-Instruct</code> (270 MB, trains on a "
            f"laptop's CPU) or any local model folder.</p>"
        )
    parts.append("<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>seconds</th><th>result</th></tr>")
    for name in STAGES:
        entry = stages.get(name)
        if entry:
            parts.append(
                f"<tr><td>{name}</td><td>{esc(entry['status'])}</td><td>{entry['seconds']}</td>"
                f"<td>{esc(entry.get('summary', ''))}</td></tr>"
            )
    parts.append("</table>")
    plan = stages.get("plan", {})
    if plan:
        parts.append(
            "<h2>The agent's plan</h2><table>"
            + _rows(
                [
                    ("session", esc(str(record.get("session")))),
                    ("recommendation", esc(str(plan.get("approach")))),
                    ("path", esc(str(plan.get("fine_tune_path")))),
                    ("rationale", esc(plan.get("rationale", ""))),
                    (
                        "approved",
                        esc(
                            f"{plan.get('approved_by')} at {plan.get('approved_at')}, plan hash "
                            f"{str(plan.get('plan_hash'))[:16]}…, ${plan.get('total_usd')}"
                        ),
                    ),
                ]
            )
            + "</table>"
        )
    if eval_report:
        metrics = list(eval_report["candidates"][0]["metrics"]) if eval_report.get("candidates") else []
        parts.append(
            f"<h2>Evaluation</h2><p>{esc(eval_report.get('verdict', ''))}</p>"
            "<table><tr><th>candidate</th><th>spec</th>" + "".join(f"<th>{esc(m)}</th>" for m in metrics) + "</tr>"
        )
        for cand in eval_report.get("candidates", []):
            cells = "".join(
                f"<td>{'n/a' if v['mean'] is None else round(v['mean'], 3)}</td>" for v in cand["metrics"].values()
            )
            parts.append(f"<tr><td>{esc(cand['name'])}</td><td>{esc(cand['spec'])}</td>{cells}</tr>")
        link = Path(stages.get("eval", {}).get("report_html", ""))
        parts.append(
            f"</table><p>Every example and chart: <a href='{esc(link.as_uri()) if link.is_absolute() else ''}'>"
            f"{esc(str(link))}</a></p>"
        )
    if served:
        sources = "".join(
            f"<li>{esc(s['source'])} (chunk {s['chunk']}, score {s['score']})</li>" for s in served.get("sources", [])
        )
        parts.append(
            "<h2>One request through <code>tunewise serve</code></h2><table>"
            + _rows(
                [
                    ("endpoint", esc(served.get("base_url", ""))),
                    ("model", esc(served.get("model", ""))),
                    ("question", esc(served.get("question", ""))),
                    ("answer", f"<pre>{esc(served.get('answer', ''))}</pre>"),
                    ("sources", f"<ol>{sources}</ol>"),
                ]
            )
            + "</table>"
        )
    deploy = stages.get("deploy", {})
    if deploy.get("path"):
        parts.append(f"<p>Serve it again: <code>tunewise serve {esc(deploy['path'])}</code></p>")
    write_text(out, "\n".join(parts) + "\n")
    return out
