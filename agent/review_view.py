"""`tunewise review`'s screen: one drafted example at a time beside the seed it came from, with the judge's score
and reason, and single keys to accept, reject, edit, skip or quit. Every decision is written at once (review.jsonl,
review.html and the training file, each all-or-nothing), so quitting or a kill loses nothing decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

KEYS = "[a]ccept  [r]eject  [e]dit answer  [s]kip  [q]uit"


@dataclass
class Reviewer:
    """The rows of one review.jsonl and where the run keeps its training file."""

    path: Path
    rows: list[dict]
    out: Path
    train_seeds: Path

    @classmethod
    def open(cls, path: Path) -> Reviewer:
        """Read review.jsonl and its run's manifest (synthesis.json beside it)."""
        from tools.synthesize.review import manifest, read_rows

        rows = read_rows(path)
        info = manifest(path.parent)
        return cls(path, rows, Path(info["input"]["out"]), Path(info["result"]["train_seeds_file"]))

    def save(self) -> int:
        """Write the decisions, the HTML page and the training file; return the accepted drafts."""
        import json

        from tools.synthesize.review import MANIFEST, write_html, write_rows, write_training

        write_rows(self.path, self.rows)
        accepted = write_training(self.out, self.train_seeds, self.rows)
        info = json.loads((self.path.parent / MANIFEST).read_text("utf-8"))
        stages = {**info["result"]["counts"], "accepted": accepted}
        title = f"Drafts to review: {self.out.name}"
        write_html(self.path.with_suffix(".html"), self.rows, stages, title, info["result"].get("dropped"))
        return accepted

    def summary(self) -> dict[str, Any]:
        """Save, then return the counts per status and the training file's size."""
        from tools.synthesize.review import counts_of

        accepted = self.save()
        seeds = sum(1 for line in self.train_seeds.read_text("utf-8").splitlines() if line.strip())
        return {**counts_of(self.rows), "training_file": str(self.out), "seeds": seeds, "drafts_in_training": accepted}

    def run(self, console: Console, *, every: bool = False) -> None:
        """Show the pending drafts (all with `every`) one at a time and take a key for each."""
        todo = [r for r in self.rows if every or r.get("status", "pending") == "pending"]
        if not todo:
            console.print(
                f"nothing to review: every draft in {self.path} is decided (--all to change one)",
                markup=False,
                soft_wrap=True,
            )
        for number, row in enumerate(todo, 1):
            if not self._one(console, row, number, len(todo)):
                break
        s = self.summary()
        console.print(
            f"accepted {s['accepted']}, rejected {s['rejected']}, pending {s['pending']}; {s['training_file']} "
            f"has {s['seeds']} seeds + {s['drafts_in_training']} accepted drafts",
            markup=False,
            soft_wrap=True,
        )

    def _one(self, console: Console, row: dict, number: int, total: int) -> bool:
        """Show one draft and apply keys until it is decided or skipped; False on quit."""
        while True:
            show_row(console, row, number, total)
            p = row.get("provenance", {})
            console.print(
                f"draft {number} of {total} · judge {p.get('score', '-')}/5 · {KEYS}", style="bold", markup=False
            )
            key = click.getchar().lower()
            if key == "a":
                row["status"] = "accepted"
            elif key == "r":
                row["status"] = "rejected"
            elif key == "e":
                edited = click.edit(str(row["messages"][-1].get("content") or ""))
                if edited is not None and edited.strip():
                    row["messages"][-1]["content"] = edited.rstrip("\n")
                    row["edited"] = True
                    row["status"] = "accepted"  # an edited draft is one the person stands behind
                else:
                    console.print("no change", markup=False)
                    continue
            elif key == "s":
                return True
            elif key in ("q", "\x03", "\x04"):
                return False
            else:
                continue
            self.save()
            console.print(f"{row['id']}: {row['status']}", markup=False)
            return True


def show_row(console: Console, row: dict, number: int, total: int) -> None:
    """Print a draft beside its seed, with the judge's score and reason."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    p = row.get("provenance", {})
    seed = row.get("seed") or {}

    def turns(messages: list[dict]) -> Text:
        text = Text()
        for m in messages:
            if m.get("role") == "system":
                continue
            text.append(f"{m['role']}\n", style="bold dim")
            text.append(str(m.get("content") or "") + "\n\n")
        return text

    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(Text(f"seed (line {seed.get('id', '?')})", style="cyan"), Text("draft", style="cyan"))
    grid.add_row(turns(seed.get("messages", [])), turns(row["messages"]))
    title = f"draft {number} of {total} · {row['id']} · judge {p.get('score', '-')}/5 · {row.get('status', 'pending')}"
    console.print(Panel(grid, title=title, title_align="left"))
    console.print(f"judge: {p.get('reason', '')}", markup=False, soft_wrap=True)
