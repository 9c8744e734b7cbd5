"""Approvals: nothing spends money or GPU time unless a recorded approval covers its step and its cost.

An approved plan file is JSON: {"plan": {..., "steps": [{"step": "train", "cost_usd": 1.2, ...}], "total_usd": ...},
"approval": {"plan_hash", "total_usd", "approved_at", "approved_by"}}. The hash ties the approval to exactly that plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.errors import TunewiseError

# A re-estimate at run time may differ a little from the plan's (a token count refreshed, a price file updated);
# anything beyond this is a different plan and needs a new approval.
COST_TOLERANCE = 0.10


class Approval(BaseModel):
    """A recorded approval: the plan's hash and total, when (UTC ISO time, seconds) and by whom."""

    model_config = ConfigDict(frozen=True)
    plan_hash: str
    total_usd: float
    approved_at: str
    approved_by: str


def plan_hash(plan: dict[str, Any]) -> str:
    """Return a stable hash of a plan (hex SHA-256 of canonical JSON), so key order and whitespace do not matter."""
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def approve(plan: dict[str, Any], *, approved_by: str) -> Approval:
    """Record an approval of `plan` now (UTC), covering its `total_usd` (0 when it has none)."""
    return Approval(
        plan_hash=plan_hash(plan),
        total_usd=float(plan.get("total_usd", 0.0)),
        approved_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        approved_by=approved_by,
    )


def check(plan: dict[str, Any], approval: Approval | None, *, step: str, cost_usd: float) -> None:
    """Raise unless `approval` matches `plan` and the plan priced `step` at no less than `cost_usd` (within tolerance)."""
    if approval is None:
        raise TunewiseError(
            f"step '{step}' spends money or GPU time and the plan is not approved",
            hint="approve the plan (tunewise plan/resume --approve), or pass --yes to a single command",
        )
    if approval.plan_hash != plan_hash(plan):
        raise TunewiseError(
            f"the approval does not match this plan (step '{step}')",
            hint="the plan changed after it was approved; review and approve it again",
        )
    priced = [s for s in plan.get("steps", []) if s.get("step") == step]
    if not priced:
        raise TunewiseError(f"the approved plan has no '{step}' step", hint="re-plan with this step and approve it")
    allowed = float(priced[0].get("cost_usd", 0.0))
    if cost_usd > allowed * (1 + COST_TOLERANCE) + 0.005:
        raise TunewiseError(
            f"step '{step}' would cost ${cost_usd:.2f}, more than the ${allowed:.2f} approved",
            hint="approve the new estimate, or lower epochs / model size",
        )


def check_plan_file(path: str | Path, *, step: str, cost_usd: float) -> None:
    """Check a step against an approved plan file: `--plan FILE` of the spending commands."""
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise TunewiseError("plan file not found", path=str(p), hint="pass the file `tunewise plan` wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TunewiseError(f"plan file is not valid JSON ({exc})", path=str(p)) from None
    raw = data.get("approval")
    check(data.get("plan", {}), Approval(**raw) if raw else None, step=step, cost_usd=cost_usd)
