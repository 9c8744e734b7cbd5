"""The fine-tuning half of the fake OpenAI server: files and jobs whose state moves with the clock.

A job's status is a pure function of the time since it was created (validating_files -> queued -> running ->
succeeded|failed), computed whenever it is read, so tests need no background thread and can scale time with
`step_seconds`. Shapes follow the installed `openai` package's `FileObject`, `FineTuningJob`,
`FineTuningJobEvent` and `FineTuningJobCheckpoint`.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

TERMINAL = ("succeeded", "failed", "cancelled")
ORG = "org-tunewisefake"


class ApiError(Exception):
    """An OpenAI error response: status plus the `{"error": {...}}` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass
class JobScript:
    """How the next created job behaves: `outcome="failed"` fails it during `fail_during` with `error`;
    `outcome="cancelled"` has someone else (the dashboard, another terminal) cancel it then."""

    total_steps: int = 6
    outcome: str = "succeeded"
    fail_during: str = "running"
    error: dict[str, Any] = field(
        default_factory=lambda: {
            "code": "invalid_training_file",
            "message": "The job failed due to an invalid training file. Each example must contain an assistant message.",
            "param": "training_file",
        }
    )
    start_loss: float = 2.4
    final_loss: float = 0.35


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


@dataclass
class _Job:
    body: dict[str, Any]
    script: JobScript
    created: float  # clock seconds
    cancelled_at: float | None = None
    finalized: bool = False
    extra_events: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[str, dict[str, Any]] = field(default_factory=dict)  # event key -> event, so ids stay stable


class FineTuneState:
    """Files and fine-tuning jobs, thread-safe; every public method returns JSON-ready dicts or raises ApiError."""

    def __init__(self, *, step_seconds: float = 0.05, clock: Callable[[], float] = time.time) -> None:
        self.step_seconds = step_seconds
        self.clock = clock
        self.next_job = JobScript()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, _Job] = {}
        self._lock = threading.RLock()

    # -- files ---------------------------------------------------------------------------------------------------

    def add_file(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        with self._lock:
            fid = _new_id("file")
            self.files[fid] = {
                "id": fid,
                "object": "file",
                "bytes": len(content),
                "created_at": int(self.clock()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "expires_at": None,
                "status_details": None,
            }
            self.contents[fid] = content
            return dict(self.files[fid])

    def get_file(self, fid: str) -> dict[str, Any]:
        with self._lock:
            if fid not in self.files:
                raise ApiError(404, f"No such File object: {fid}", param="id")
            return dict(self.files[fid])

    def list_files(self, purpose: str | None = None, order: str = "desc") -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(f) for f in self.files.values() if purpose in (None, f["purpose"])]
        rows.sort(key=lambda f: f["created_at"], reverse=order != "asc")
        return rows

    def delete_file(self, fid: str) -> dict[str, Any]:
        with self._lock:
            self.get_file(fid)
            del self.files[fid]
            self.contents.pop(fid, None)
            return {"id": fid, "object": "file", "deleted": True}

    # -- jobs ----------------------------------------------------------------------------------------------------

    def create_job(self, req: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(req.get("model"), str) or not req["model"]:
            raise ApiError(
                400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
            )
        with self._lock:
            for key in ("training_file", "validation_file"):
                fid = req.get(key)
                if key == "training_file" or fid:
                    if fid not in self.files or self.files[fid]["purpose"] != "fine-tune":
                        raise ApiError(
                            400,
                            f"invalid {key} ID: {fid}. Upload the file with purpose 'fine-tune'.",
                            param=key,
                            code="invalid_file",
                        )
            method = req.get("method") or {
                "type": "supervised",
                "supervised": {"hyperparameters": req.get("hyperparameters") or {}},
            }
            hyper = dict((method.get(method["type"]) or {}).get("hyperparameters") or req.get("hyperparameters") or {})
            for name in ("n_epochs", "batch_size", "learning_rate_multiplier"):
                hyper.setdefault(name, "auto")
            jid = _new_id("ftjob")
            body = {
                "id": jid,
                "object": "fine_tuning.job",
                "created_at": int(self.clock()),
                "error": None,
                "fine_tuned_model": None,
                "finished_at": None,
                "hyperparameters": hyper,
                "model": req["model"],
                "organization_id": ORG,
                "result_files": [],
                "seed": req.get("seed") if req.get("seed") is not None else 42,
                "status": "validating_files",
                "trained_tokens": None,
                "training_file": req["training_file"],
                "validation_file": req.get("validation_file"),
                "estimated_finish": None,
                "integrations": [],
                "metadata": req.get("metadata"),
                "method": {"type": method["type"], method["type"]: {"hyperparameters": hyper}},
                "user_provided_suffix": req.get("suffix"),
            }
            self.jobs[jid] = _Job(body=body, script=self.next_job, created=self.clock())
            return self._view(jid)

    def get_job(self, jid: str) -> dict[str, Any]:
        with self._lock:
            if jid not in self.jobs:
                raise ApiError(
                    404, f"Could not find fine-tune: {jid}", param="fine_tune_id", code="fine_tune_not_found"
                )
            return self._view(jid)

    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            views = [self._view(jid) for jid in self.jobs]
        if metadata:
            views = [j for j in views if all((j["metadata"] or {}).get(k) == v for k, v in metadata.items())]
        views.sort(key=lambda j: (j["created_at"], self.jobs[j["id"]].created), reverse=True)
        return views

    def cancel_job(self, jid: str) -> dict[str, Any]:
        with self._lock:
            view = self.get_job(jid)
            if view["status"] in TERMINAL:
                raise ApiError(400, f"Job has already completed: {jid}", param="fine_tune_id", code="invalid_state")
            job = self.jobs[jid]
            job.cancelled_at = self.clock()
            job.extra_events.append(self._event(jid, job.cancelled_at, "info", "Fine-tuning job cancelled"))
            return self._view(jid)

    def events(self, jid: str) -> list[dict[str, Any]]:
        """Events newest first, as the API returns them."""
        with self._lock:
            self.get_job(jid)
            return list(reversed(self._timeline(jid)))

    def checkpoints(self, jid: str) -> list[dict[str, Any]]:
        """Checkpoints newest first; only a succeeded job has them (the last three epochs' ends)."""
        with self._lock:
            view = self.get_job(jid)
            if view["status"] != "succeeded":
                return []
            job = self.jobs[jid]
            total, epochs = job.script.total_steps, max(1, int(view["hyperparameters"]["n_epochs"]))
            steps = sorted({max(1, round(total * e / epochs)) for e in range(max(1, epochs - 2), epochs + 1)})
            rows = []
            for step in steps:
                loss = self._loss(job.script, step)
                rows.append(
                    {
                        "id": f"ftckpt-{jid[6:18]}{step:04d}",
                        "object": "fine_tuning.job.checkpoint",
                        "created_at": view["created_at"],
                        "fine_tuning_job_id": jid,
                        "step_number": step,
                        "fine_tuned_model_checkpoint": f"{view['fine_tuned_model']}:ckpt-step-{step}",
                        "metrics": {
                            "step": float(step),
                            "train_loss": loss,
                            "valid_loss": loss * 1.1,
                            "full_valid_loss": loss * 1.12,
                            "train_mean_token_accuracy": 0.9,
                            "valid_mean_token_accuracy": 0.88,
                            "full_valid_mean_token_accuracy": 0.87,
                        },
                    }
                )
            return list(reversed(rows))

    # -- the clock-driven part ------------------------------------------------------------------------------------

    def _phases(self, job: _Job) -> list[tuple[str, float]]:
        """(status, start time) of each phase the script goes through, in order."""
        s = self.step_seconds
        phases = [("validating_files", job.created), ("queued", job.created + s), ("running", job.created + 2 * s)]
        end = job.created + 2 * s + s * max(1, job.script.total_steps) / 2
        if job.script.outcome in ("failed", "cancelled"):
            cut = {"validating_files": 1, "queued": 2}.get(job.script.fail_during, 3)
            phases = phases[:cut]
            end = phases[-1][1] + s
        phases.append((job.script.outcome, end))
        return phases

    def _status(self, job: _Job, now: float) -> str:
        status = "validating_files"
        for name, start in self._phases(job):
            if now >= start and (job.cancelled_at is None or start <= job.cancelled_at):
                status = name
        if job.cancelled_at is not None and status not in TERMINAL:
            return "cancelled"
        return status

    def _loss(self, script: JobScript, step: int) -> float:
        frac = step / max(1, script.total_steps)
        return round(script.final_loss + (script.start_loss - script.final_loss) * math.exp(-3 * frac), 4)

    def _event(self, jid: str, at: float, level: str, message: str, data: dict | None = None) -> dict[str, Any]:
        return {
            "id": f"ftevent-{jid[6:14]}{int(at * 1e6) % 10**10:010d}{secrets.token_hex(2)}",
            "object": "fine_tuning.job.event",
            "created_at": int(at),
            "level": level,
            "message": message,
            "data": data or {},
            "type": "metrics" if data else "message",
            "_at": at,
        }

    def _timeline(self, jid: str) -> list[dict[str, Any]]:
        """Every event that has happened by now, oldest first; ids are stable across calls."""
        job, now = self.jobs[jid], self.clock()
        stop = min(now, job.cancelled_at) if job.cancelled_at is not None else now
        cache = job.timeline

        def ev(key: str, at: float, level: str, message: str, data: dict | None = None) -> None:
            if at <= stop and key not in cache:
                cache[key] = self._event(jid, at, level, message, data)

        phases = dict(self._phases(job))
        ev("created", job.created, "info", f"Created fine-tuning job: {jid}")
        ev("validating", job.created, "info", f"Validating training file: {job.body['training_file']}")
        if "queued" in phases:
            ev("queued", phases["queued"], "info", "Files validated, moving job to queued state")
        if "running" in phases:
            ev("running", phases["running"], "info", "Fine-tuning job started")
            end = phases.get("succeeded", phases.get("failed", phases.get("cancelled")))
            total, has_valid = job.script.total_steps, bool(job.body["validation_file"])
            # A job that fails while running gets about half way.
            last = total if job.script.outcome == "succeeded" else max(1, total // 2)
            for step in range(1, last + 1):
                at = phases["running"] + (end - phases["running"]) * step / (total + 1)
                loss = self._loss(job.script, step)
                data = {"step": step, "total_steps": total, "train_loss": loss, "train_mean_token_accuracy": 0.9}
                msg = f"Step {step}/{total}: training loss={loss:.2f}"
                if has_valid:
                    data.update(valid_loss=round(loss * 1.1, 4), valid_mean_token_accuracy=0.88)
                    msg += f", validation loss={loss * 1.1:.2f}"
                ev(f"step{step}", at, "info", msg, data)
        if "succeeded" in phases:
            ev("model", phases["succeeded"], "info", "New fine-tuned model created")
            ev("done", phases["succeeded"], "info", "The job has successfully completed")
        if "failed" in phases:
            ev("failed", phases["failed"], "error", job.script.error["message"])
        if "cancelled" in phases:
            ev("cancelled", phases["cancelled"], "info", "Fine-tuning job cancelled")
        events = list(cache.values()) + job.extra_events
        return [{k: v for k, v in e.items() if k != "_at"} for e in sorted(events, key=lambda e: e["_at"])]

    def _view(self, jid: str) -> dict[str, Any]:
        job = self.jobs[jid]
        now = self.clock()
        status = self._status(job, now)
        body = dict(job.body, status=status)
        if status in TERMINAL and not job.finalized:
            self._finalize(job, status)
        if job.finalized:
            body.update(job.body)
            body["status"] = status
        elif status == "running":
            body["estimated_finish"] = int(self._phases(job)[-1][1]) + 1
        return body

    def _finalize(self, job: _Job, status: str) -> None:
        """Fill in what a finished job reports: model name, billed tokens, the results file, or the error."""
        body, jid = job.body, job.body["id"]
        body["status"] = status
        body["finished_at"] = int(self.clock())
        hyper = body["hyperparameters"]
        lines = len(self.contents[body["training_file"]].splitlines()) or 1
        if hyper["n_epochs"] == "auto":
            hyper["n_epochs"] = (
                3 if 34 <= lines <= 8333 else (min(25, 100 // lines) if lines < 34 else max(1, 25000 // lines))
            )
        if hyper["batch_size"] == "auto":
            hyper["batch_size"] = 1
        if hyper["learning_rate_multiplier"] == "auto":
            hyper["learning_rate_multiplier"] = 2.0
        body["method"][body["method"]["type"]]["hyperparameters"] = hyper
        if status == "succeeded":
            suffix = body.get("user_provided_suffix") or ""
            body["fine_tuned_model"] = f"ft:{body['model']}:tunewise-fake:{suffix}:{jid[-8:]}"
            # About four bytes of JSONL per token, times epochs: the same order as OpenAI's count.
            body["trained_tokens"] = int(hyper["n_epochs"]) * max(1, len(self.contents[body["training_file"]]) // 4)
            rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
            rows += [f"{s},{self._loss(job.script, s)},0.9,," for s in range(1, job.script.total_steps + 1)]
            result = self.add_file(f"step_metrics_{jid}.csv", ("\n".join(rows) + "\n").encode(), "fine-tune-results")
            body["result_files"] = [result["id"]]
        elif status == "failed":
            body["error"] = dict(job.script.error)
        job.finalized = True


def parse_metadata_filter(query: dict[str, list[str]]) -> dict[str, str]:
    """`metadata[k]=v` query pairs as a dict."""
    return {k[len("metadata[") : -1]: v[-1] for k, v in query.items() if k.startswith("metadata[") and k.endswith("]")}


def page(rows: list[dict[str, Any]], *, after: str | None, limit: int) -> dict[str, Any]:
    """A cursor page: rows after the one with id `after`, at most `limit`, and whether more remain."""
    if after:
        ids = [r["id"] for r in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit}
