"""The confirm step: before deciding, show what was read as a numbered list (one item per step of the framework,
with its source and evidence) and let the person accept it or correct any item in plain words ("3: we have 400
NDAs"). A correction is read by the same interviewer with the item's fact as focus and recorded as `stated`;
the interview then walks the steps again (asking only what the correction made relevant) and shows the list
again, until it is accepted. Interviewer-agnostic: the offline and the LLM reader go through the same node.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs import interview as iv
from graphs.protocol import Answer, Confirm, ConfirmItem, as_interrupt, reply_of
from graphs.state import STEPS, AgentState, Context, Interviewer, merge_facts
from tools.decision import MODIFIERS, STEP_MODIFIERS, Facts

# graphs.interview wires this node into its graph at import, so its helpers are looked up when a node runs
# (`iv.name`), which lets either module be imported first.

ACCEPT = re.compile(
    r"^\W*(y|yes|yep|yeah|ok|okay|fine|correct|right|that'?s right|looks (good|right|fine)|all good|"
    r"accept(ed)?|confirm(ed)?|lgtm|go|go ahead|good)?\W*$",
    re.I,
)
# "3: we have 400 NDAs", "2) both", "item 4 - it changes monthly"; several may share a line, split at ";" or " and N:".
ITEM = re.compile(r"(?:^|;|\band\b)\s*(?:item\s*|#)?([1-9])\s*[:.)=\-]\s*", re.I)


def items(state: AgentState, facts: dict[str, Any], open_doubts: dict[str, Any]) -> list[ConfirmItem]:
    """Build the numbered list: one item per step, what was read, its source and evidence, and any doubt."""
    out = []
    for n, (key, fact, title) in enumerate(STEPS, 1):
        entry = iv.problem_fact(facts) if fact == "problem" else facts.get(fact)
        label = title.split(". ", 1)[-1]
        if entry is None:
            out.append(
                ConfirmItem(
                    n=n,
                    step=key,
                    title=label,
                    read="not needed: the recommendation is the same whatever the answer",
                    source="inferred",
                )
            )
            continue
        read = iv.describe(fact, entry["value"])
        extra = [w for m in STEP_MODIFIERS.get(fact, ()) if (w := modifier_words(m, (facts.get(m) or {}).get("value")))]
        if extra:
            read += "; " + "; ".join(extra)
        out.append(
            ConfirmItem(
                n=n,
                step=key,
                title=label,
                read=read,
                source=entry["source"],
                evidence=entry["evidence"],
                doubt=open_doubts.get(fact),
            )
        )
    return out


def modifier_words(fact: str, value: Any) -> str | None:
    """Return a step's qualifier in the list's words: a flag when it is set, a quality when it is not the default
    ("400 good examples" already says they are good; "labelled with low agreement" is what the list must show).
    """
    if value is True:
        return MODIFIERS[fact]
    if isinstance(value, str) and value != Facts.model_fields[fact].default:
        return MODIFIERS[fact].format(value=iv.describe(fact, value))
    return None


def corrections(text: str) -> list[tuple[int | None, str]]:
    """Split the reply into its corrections: (item number or None, what the person said) for each."""
    marks = list(ITEM.finditer(text))
    if not marks or marks[0].start() > 0 and text[: marks[0].start()].strip(" ;,"):
        head = text[: marks[0].start()] if marks else text
        out: list[tuple[int | None, str]] = [(None, head.strip(" ;,"))]
    else:
        out = []
    for mark, nxt in zip(marks, marks[1:] + [None]):
        said = text[mark.end() : nxt.start() if nxt else len(text)].strip(" ;,")
        out.append((int(mark.group(1)), said))
    return [(n, said) for n, said in out if said]


def read_correction(reader: Interviewer, n: int | None, said: str) -> tuple[dict, str | None]:
    """Read one correction: return the facts it states (source `stated`, over any reading) and None, or no facts
    and why it could not be read.
    """
    if n is not None and not 1 <= n <= len(STEPS):
        return {}, f"there is no item {n}: the list has {len(STEPS)}"
    fact = STEPS[n - 1][1] if n else None
    found = reader.extract(said, focus=fact)
    evidence = f"corrected: {said}"
    # A numbered correction speaks to its item: other facts read in passing ("4: it changes every month" also
    # sounds like volatile knowledge) would change items the person did not mean to touch.
    keep = (
        {fact, *STEP_MODIFIERS.get(fact, ()), *(("behaviour", "knowledge") if fact == "problem" else ())}
        if fact
        else None
    )
    new = {
        f.fact: {"value": f.value, "source": "stated", "evidence": evidence, "confidence": 1.0}
        for f in found
        if keep is None or f.fact in keep
    }
    if fact == "problem" and "problem" not in new and {"behaviour", "knowledge"} & new.keys():
        cues = iv.problem_fact({k: v for k, v in new.items() if k in ("behaviour", "knowledge")})
        assert cues is not None  # the correction gave a behaviour or knowledge cue
        new["problem"] = {
            **cues,
            "source": "stated",
            "evidence": evidence,
            "confidence": 1.0,
        }
    if n is not None and fact not in new:  # a numbered correction: it must correct its own item
        return {}, f"I could not read “{said}” as item {n} ({STEPS[n - 1][2].split('. ', 1)[-1]})"
    if not new:
        return {}, f"I could not tell which item “{said}” corrects: start it with the item's number, e.g. “3: {said}”"
    return new, None


def confirm(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Show what was read and take "yes" or corrections; nothing before the interrupt has effects."""
    if not state.get("interactive", True):
        return {}  # --non-interactive: what was not read is assumed and listed, as the steps recorded it
    settled = iv.settle(state, runtime)  # deterministic given the state: safe to repeat when the node is re-run
    facts = merge_facts(state.get("facts"), settled.get("facts"))
    open_doubts = {k: v for k, v in {**(state.get("doubts") or {}), **settled.get("doubts", {})}.items() if v}
    status = iv.openai_status(state)
    if any(
        iv.step_move(fact, facts, status, doubt=open_doubts.get(fact))[1] in ("ask", "confirm") for _, fact, _ in STEPS
    ):
        # The goal's full reading, merged just now, left a step's answer unread or unsure (a count the heads saw
        # counts something else): walk the steps again, so they ask, before the list is shown.
        return {**settled, "confirmed": False}
    request = Confirm(
        items=items(state, facts, open_doubts), retry=state.get("confirm_note"), note=state.get("reader_caveat")
    )
    reply = reply_of(interrupt(as_interrupt(request)))
    text = reply.text.strip() if isinstance(reply, Answer) else ""  # not words (e.g. an approval): accepts
    talk = [{"role": "agent", "text": "Is this what you meant?"}, {"role": "user", "text": text}]
    if ACCEPT.match(text):
        return {**settled, "confirmed": True, "confirm_note": None, "transcript": talk, "steps": _records(state, facts)}
    reader, switched = iv.reader_for({**state, "facts": facts}, runtime)
    if switched:
        settled = {**settled, "interviewer": "offline"}
    new: dict = {}
    notes = []
    for n, said in corrections(text):
        got, note = read_correction(reader, n, said)
        new.update(got)
        if note:
            notes.append(note)
    return {
        **settled,
        "facts": {**settled.get("facts", {}), **new},
        "doubts": {fact: None for fact in new},
        "confirmed": False,
        "transcript": talk,
        "confirm_note": "; ".join(notes) + ". Correct an item as “N: what is true”, or press Enter to accept."
        if notes
        else None,
    }


def _records(state: AgentState, facts: dict) -> dict:
    """Rebuild the step records from the facts as accepted (the goal's full reading may have been merged since)."""
    out = {}
    have = {**iv.known(facts), "openai_status": iv.openai_status(state)}
    for key, fact, _ in STEPS:
        entry = iv.problem_fact(facts) if fact == "problem" else facts.get(fact)
        if entry is not None:  # a step with nothing read keeps its "not needed" record
            out[key] = iv._record(key, fact, entry, iv._answer(key, state, have))
    return out


def route_confirm(state: AgentState) -> Literal["decide", "again"]:
    """Route to the decision once the list is accepted (or nobody is asked), else walk the steps again."""
    return "decide" if state.get("confirmed") or not state.get("interactive", True) else "again"
