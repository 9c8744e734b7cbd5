"""Few-shot examples drawn from a training file: short, distinct, spread from the shortest answer to the longest."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

FEW_SHOT = 4  # the article's "3-5 few-shot examples"


class Shot(BaseModel):
    """One few-shot example: a user turn and the answer it got."""

    user: str
    assistant: str


def few_shot(path: str | Path, k: int = FEW_SHOT, scan: int = 5000) -> list[Shot]:
    """Pick `k` short, distinct examples among the first `scan` records of the file at `path`.

    Invalid records are skipped silently: reporting them is `tunewise validate`'s job.
    """
    from tools.dataset.formats import detect_format, is_json_array, iter_json_array, iter_raw_lines, to_messages

    p = Path(path)
    rows = iter_json_array(p) if is_json_array(p) else iter_raw_lines(p)
    seen: set[str] = set()
    pool: list[Shot] = []
    for n, (_, raw) in enumerate(rows):
        if n >= scan:
            break
        try:
            record = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
            messages = to_messages(record, detect_format(record) or "")
        except Exception:  # an invalid record is validate's business; it is simply not a candidate here
            continue
        user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), None)
        if not isinstance(user, str) or not isinstance(answer, str) or len(user) + len(answer) > 1500:
            continue
        key = re.sub(r"\W+", " ", user.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            pool.append(Shot(user=user, assistant=answer))
    pool.sort(key=lambda ex: (len(ex.assistant), ex.user))
    if len(pool) <= k:
        return pool
    return [pool[round(i * (len(pool) - 1) / (k - 1))] for i in range(k)] if k > 1 else pool[:1]
