"""People-facing renderings of tool results (rich); machines get `--json` instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.console import console

if TYPE_CHECKING:
    from tools.dataset.validate import ValidateResult

_SHOWN_PER_CODE = 5


def render_validation(result: ValidateResult) -> None:
    """Print a validation result for people: status, tokens, training cost, the length histogram, and the
    errors and warnings (at most five of each code; --json has them all).
    """
    from rich.table import Table

    status = "[green]ready[/]" if result.ok else f"[red]{sum(result.error_counts.values())} error(s)[/]"
    console.print(f"[bold]{result.path}[/] — {result.format} format, target {result.model}: {status}")
    console.print(
        f"{result.valid_examples:,} of {result.examples:,} examples valid; "
        f"{result.messages_per_example} messages per example"
    )
    t = result.tokens
    console.print(
        f"tokens: {t.total:,} in the file, {t.trained:,} trained ({100 * result.assistant_token_share:.0f}% assistant); "
        f"per example min {t.per_example.min}, mean {t.per_example.mean}, p50 {t.per_example.p50:.0f}, "
        f"p95 {t.per_example.p95:.0f}, max {t.per_example.max}"
    )
    console.print(
        f"estimated training cost: [bold]${result.estimated_training_cost_usd:,.2f}[/] "
        f"({result.epochs} epochs, OpenAI's auto heuristic; prices: {result.price_source})"
    )
    if result.near_duplicate_horizon is not None:
        console.print(
            f"[yellow]near-duplicates searched among the first {result.near_duplicates_searched:,} valid examples "
            f"only; from line {result.near_duplicate_horizon:,} on they were not looked for[/]"
        )
    if result.length_histogram:
        peak = max(c for _, _, c in result.length_histogram) or 1
        console.print("tokens per example:")
        for lo, hi, count in result.length_histogram:
            console.print(f"  {lo:>7,}–{hi:<7,} {'█' * max(1 if count else 0, round(30 * count / peak))} {count:,}")
    for title, issues, counts, colour in (
        ("errors", result.errors, result.error_counts, "red"),
        ("warnings", result.warnings, result.warning_counts, "yellow"),
    ):
        if not counts:
            continue
        table = Table(title=f"{title} ({sum(counts.values()):,})", title_justify="left", show_lines=False)
        table.add_column("line", justify="right")
        table.add_column("code", style=colour)
        table.add_column("message")
        shown: dict[str, int] = {}
        for issue in issues:
            if shown.get(issue.code, 0) < _SHOWN_PER_CODE:
                shown[issue.code] = shown.get(issue.code, 0) + 1
                table.add_row(str(issue.line), issue.code, issue.message)
        for code, n in counts.items():
            if n > shown.get(code, 0):
                table.add_row("", code, f"… and {n - shown.get(code, 0):,} more (see --json)")
        console.print(table)
