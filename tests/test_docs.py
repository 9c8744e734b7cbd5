"""The documentation: a README a newcomer reads to the end, every section of the old README findable on the site,
and pictures whose commands still run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# Every heading of the README as it stood before the site (main at 27bbe90, 1,429 lines), and the page that holds
# it now, its level raised by one ("## tunewise plan" is the page's "# tunewise plan").
OLD_README_HEADINGS = [
    ("tunewise validate", "commands/validate.md"),
    ("How the tools' costs grow", "commands/validate.md"),
    ("tunewise split", "commands/split.md"),
    ("tunewise estimate", "commands/estimate.md"),
    ("tunewise train --backend openai, and tunewise jobs", "commands/train-openai.md"),
    ("tunewise eval", "commands/eval.md"),
    ("tunewise plan", "commands/plan.md"),
    ("The paths, and what OpenAI's wind-down changes (as of 2026-12-06)", "commands/plan.md"),
    ("Where the data goes: private means private", "commands/plan.md"),
    ("How the offline interviewer reads a goal, and how well", "commands/plan.md"),
    ("tunewise train --backend unsloth|hf", "commands/train.md"),
    ("Training in several processes: `--launcher accelerate`", "commands/train.md"),
    ("tunewise deploy and tunewise serve", "commands/deploy-serve.md"),
    ("Context budgets", "commands/deploy-serve.md"),
    ("Malformed requests", "commands/deploy-serve.md"),
    ("Quiet start-up", "commands/deploy-serve.md"),
    ("tunewise index and tunewise search", "commands/index-search.md"),
    ("tunewise demo", "commands/demo.md"),
    ("Pointing tunewise at models, stores and GPUs", "gpus.md"),
]


def _headings(page: Path) -> list[str]:
    out, fenced = [], False
    for line in page.read_text("utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,3} ", line):
            out.append(line.lstrip("#").strip())
    return out


@pytest.mark.parametrize("heading,page", OLD_README_HEADINGS)
def test_every_old_readme_section_is_a_heading_of_its_page(heading, page):
    assert heading in _headings(DOCS / page), f"'{heading}' is not a heading of docs/{page}"


def test_every_page_is_in_the_navigation_and_every_nav_entry_exists():
    nav = re.findall(r":\s*([\w/-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text("utf-8"), re.M)
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert set(nav) == pages


def test_the_readme_is_short_opens_with_the_two_commands_and_shows_a_plan():
    text = (REPO / "README.md").read_text("utf-8")
    assert len(text.splitlines()) <= 250
    blocks = re.findall(r"^```bash\n(.*?)\n```", text, re.M | re.S)
    assert blocks[0].startswith("python3 -m venv .venv") and blocks[1].startswith(". .venv/bin/activate")
    picture = re.search(r"!\[[^\]]*\]\((docs/pictures/plan\.svg)\)", text)
    assert picture and (REPO / picture.group(1)).is_file()


def test_each_pictures_command_still_runs(tmp_path):
    """docs/make_pictures.py draws every picture from a real run; one broken command would leave a stale picture."""
    out = subprocess.run(
        [sys.executable, str(DOCS / "make_pictures.py"), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    for name in ("plan", "validate", "estimate", "eval"):
        svg = (tmp_path / f"{name}.svg").read_text("utf-8")
        assert svg.startswith("<svg") and "tunewise" in svg
