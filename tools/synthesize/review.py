"""Stage 7 and the person's part: review.jsonl (every draft the judge passed, beside the seed it came from, with its
score, reason and provenance, and a status a person sets), review.html to read them in a browser, and the training
file, rebuilt from the training seeds and the accepted drafts whenever a decision changes.

A person accepts or rejects a draft in `tunewise review FILE`, or by setting "status" in review.jsonl to "accepted"
or "rejected" (and may edit "messages"); a run again keeps every decision already made.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from tools.atomic import write_text
from tools.errors import TunewiseError

STATUSES = ("pending", "accepted", "rejected")
MANIFEST = "synthesis.json"  # beside review.jsonl: where the training file and the training seeds are


def read_rows(path: Path) -> list[dict]:
    """Read review.jsonl; a line that is not a review row is an error naming the line and the fix."""
    if not path.is_file():
        raise TunewiseError("no review file here", path=str(path), hint="run `tunewise synthesize` first")
    rows = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise TunewiseError(
                "not a JSON line", path=str(path), line=number, hint="fix or delete the line; the drafts are kept"
            ) from None
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("messages"), list):
            raise TunewiseError(
                "not a review row (it needs 'id' and 'messages')", path=str(path), line=number, hint="restore the line"
            )
        if row.get("status", "pending") not in STATUSES:
            raise TunewiseError(
                f"status {row.get('status')!r} is not one of {', '.join(STATUSES)}",
                path=str(path),
                line=number,
                hint='set "status" to "accepted" or "rejected"',
            )
        rows.append(row)
    return rows


def merge_decisions(rows: list[dict], path: Path) -> list[dict]:
    """Keep the status (and any edit) a person already gave each row in an earlier review.jsonl."""
    if not path.is_file():
        return rows
    before = {r["id"]: r for r in read_rows(path)}
    for row in rows:
        old = before.get(row["id"])
        if old is not None and old.get("status", "pending") != "pending":
            row["status"] = old["status"]
            row["messages"] = old["messages"]
            if old.get("edited"):
                row["edited"] = True
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write review.jsonl all-or-nothing."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def manifest(folder: Path) -> dict[str, Any]:
    """Read the run's manifest beside review.jsonl."""
    path = folder / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        raise TunewiseError(
            f"no readable {MANIFEST} beside the review file",
            path=str(path),
            hint="run `tunewise synthesize` again with the same --out: it keeps every decision and pays for nothing twice",
        ) from None
    return data


def write_training(out: Path, train_seeds: Path, rows: list[dict]) -> int:
    """Write the training file: the training seeds, then the accepted drafts with their provenance. Return how many
    drafts went in.
    """
    accepted = [r for r in rows if r.get("status") == "accepted"]
    seeds = [line for line in train_seeds.read_text("utf-8").splitlines() if line.strip()]
    drafted = [
        json.dumps(
            {"messages": r["messages"], "metadata": {"synthetic": True, "draft": r["id"], **r.get("provenance", {})}},
            ensure_ascii=False,
        )
        for r in accepted
    ]
    write_text(out, "\n".join(seeds + drafted) + "\n")
    return len(accepted)


def counts_of(rows: list[dict]) -> dict[str, int]:
    """Return how many rows each status has."""
    return {s: sum(1 for r in rows if r.get("status", "pending") == s) for s in STATUSES}


def _turns(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        if m.get("role") == "system":
            continue
        parts.append(
            f'<div class="turn {html.escape(m["role"])}"><b>{html.escape(m["role"])}</b>'
            f"<pre>{html.escape(str(m.get('content') or ''))}</pre></div>"
        )
    return "".join(parts)


def write_html(
    path: Path, rows: list[dict], stages: dict[str, int], title: str, dropped: dict[str, int] | None = None
) -> None:
    """Write review.html: the counts per stage and why drafts were dropped, then each kept draft beside its seed,
    with its score and reason.
    """
    funnel = " → ".join(f"<span><b>{v}</b> {html.escape(k.replace('_', ' '))}</span>" for k, v in stages.items())
    if dropped:
        why = ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(dropped.items(), key=lambda kv: -kv[1]))
        funnel += f'<div class="how">dropped: {why}</div>'

    cards = []
    for r in rows:
        p = r.get("provenance", {})
        status = r.get("status", "pending")
        seed = r.get("seed") or {}
        cards.append(
            f'<section class="card {status}" id="{html.escape(r["id"])}">'
            f'<header><span class="id">{html.escape(r["id"])}</span>'
            f'<span class="score">judge {html.escape(str(p.get("score", "-")))}/5</span>'
            f'<span class="status">{status}</span>'
            f'<span class="reason">{html.escape(str(p.get("reason", "")))}</span></header>'
            f'<div class="pair"><div class="col"><h3>seed (line {html.escape(str(seed.get("id", "?")))})</h3>'
            f"{_turns(seed.get('messages', []))}</div>"
            f'<div class="col"><h3>draft</h3>{_turns(r["messages"])}</div></div>'
            f"<footer>teacher {html.escape(str(p.get('teacher', '')))} · judge {html.escape(str(p.get('judge', '')))}"
            f" · prompt {html.escape(str(p.get('prompt_hash', '')))} · seeds {html.escape(str(p.get('seed_ids', [])))}"
            "</footer></section>"
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1b1f24; background: #f6f7f9; }}
h1 {{ font-size: 20px; margin: 0 0 6px; }}
.funnel span {{ display: inline-block; padding: 4px 10px; background: #fff; border: 1px solid #d0d7de;
  border-radius: 6px; margin: 4px 0; }}
.how {{ color: #57606a; margin: 8px 0 18px; }}
.card {{ background: #fff; border: 1px solid #d0d7de; border-left: 6px solid #bf8700; border-radius: 6px;
  margin: 0 0 16px; padding: 10px 14px; }}
.card.accepted {{ border-left-color: #1a7f37; }} .card.rejected {{ border-left-color: #cf222e; opacity: .7; }}
header {{ display: flex; gap: 14px; align-items: baseline; flex-wrap: wrap; }}
.id {{ font-family: ui-monospace, monospace; color: #57606a; }} .score {{ font-weight: 600; }}
.status {{ text-transform: uppercase; font-size: 12px; letter-spacing: .04em; }}
.reason {{ color: #57606a; font-style: italic; }}
.pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }}
.col h3 {{ font-size: 13px; margin: 8px 0 4px; color: #57606a; }}
.turn {{ margin: 0 0 6px; }} .turn b {{ font-size: 12px; color: #57606a; }}
pre {{ white-space: pre-wrap; margin: 2px 0 0; font: inherit; background: #f6f8fa; padding: 6px 8px;
  border-radius: 4px; }}
footer {{ color: #8c959f; font-size: 12px; margin-top: 6px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="funnel">{funnel}</div>
<p class="how">Accept or reject each draft with <code>tunewise review {html.escape(str(path.with_suffix(".jsonl")))}</code>,
or set "status" in review.jsonl. Only accepted drafts are trained on; evaluation stays on real held-out examples.</p>
{"".join(cards) or "<p>No draft passed the judge.</p>"}
</body></html>
"""
    write_text(path, page)
