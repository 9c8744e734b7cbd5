"""The interview: one node per step of the framework, asking only what the goal text left open and what could
still change the recommendation, one question at a time, each with a line on why it matters.

`add_interview(builder)` wires intake -> step_prompt -> ... -> step_path -> decide into any StateGraph over
`AgentState`; `graph` is the interview alone, for LangGraph Studio.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.decision import DOMAINS, Facts, decide, pick_path, relevant
from graphs.plan import RUN_OPTIONS, run_option
from graphs.state import STEPS, AgentState, Context
from prompts import render
from tools.errors import TunewiseError

RANK = {"assumed": 0, "inferred": 1, "stated": 2, "asked": 3}
MAX_RETRIES = 2  # after two replies it could not read, the agent assumes and says so rather than nagging
SKIP = re.compile(r"^\W*(skip|pass|don'?t know|dunno|not sure|no idea|unsure|\?+)\W*$", re.I)
ASSUMED: dict[str, tuple[Any, str]] = {
    "prompting": ("not_tried", "assumed: no careful prompt has been tried yet, so the framework's first step comes first"),
    "problem": ("behaviour", "assumed: a behaviour problem (how the model answers, not what it knows)"),
    "examples": (0, "assumed: no training examples yet"),
    "stable": (True, "assumed: the wanted behaviour is stable"),
    "private": (True, "assumed: the data must stay in-house, the safe default until you say it may go to OpenAI"),
}
ANSWER_KEYS = {"1": "prompting", "prompt": "prompting", "prompting": "prompting", "2": "problem", "problem": "problem",
               "3": "examples", "data": "examples", "examples": "examples", "4": "stable", "stability": "stable",
               "stable": "stable", "5": "private", "path": "private", "private": "private", "privacy": "private"}
EXTRA_KEYS = ("base_model", "requests_per_month", "collection", *RUN_OPTIONS)  # read by the plan, not the interview


def question(fact: str) -> tuple[str, str]:
    """(the question, why it matters) from prompts/question_FACT.md."""
    text, why = render(f"question_{fact}").strip().split("\n", 1)
    return text.strip(), why.strip()


def interviewer_of(runtime: Runtime[Context] | None):
    ctx = runtime.context if runtime is not None else None
    if ctx is None or ctx.interviewer is None:  # LangGraph Studio passes no context: read offline
        from agent.interviewer.offline import OfflineInterviewer

        if ctx is None:
            return OfflineInterviewer()
        ctx.interviewer = OfflineInterviewer()
    return ctx.interviewer


def absorb(facts: dict, findings, *, asked: str | None = None) -> dict:
    """The facts that `findings` add or improve on (a finding never overrides a stronger source)."""
    out: dict = {}
    for f in findings:
        source = "asked" if f.fact == asked else f.how
        old = out.get(f.fact) or facts.get(f.fact)
        if old is None or RANK[source] >= RANK[old["source"]]:
            out[f.fact] = {"value": f.value, "source": source, "evidence": f.evidence}
    return out


def known(facts: dict) -> dict:
    """Facts as `decision.Facts` fields; the problem comes from an explicit answer or from the cues found."""
    out = {k: v["value"] for k, v in facts.items() if k in Facts.model_fields and k != "problem"}
    problem = problem_fact(facts)
    if problem:
        out["problem"] = problem["value"]
    return out


def problem_fact(facts: dict) -> dict | None:
    if "problem" in facts:
        return facts["problem"]
    cues = [facts[k] for k in ("behaviour", "knowledge") if k in facts]
    if not cues:
        return None
    value = "both" if len(cues) == 2 else "behaviour" if "behaviour" in facts else "knowledge"
    source = max((c["source"] for c in cues), key=RANK.__getitem__)
    evidence = " / ".join(dict.fromkeys(c["evidence"] for c in cues))
    return {"value": value, "source": source, "evidence": evidence}


def openai_status(state: AgentState) -> str:
    from tools.catalog import openai_catalog

    today = dt.date.fromisoformat(state["today"]) if state.get("today") else None
    return openai_catalog().availability.status(today)


# ---- nodes ------------------------------------------------------------------------------------------------------

def intake(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Read the goal, the --answer presets, the training file (validated) and the docs folder."""
    reader = interviewer_of(runtime)
    facts = dict(state.get("facts") or {})
    facts.update(absorb(facts, reader.extract(state.get("goal") or "")))
    for key, value in (state.get("preset") or {}).items():
        fact = ANSWER_KEYS.get(key.lower())
        if fact is None:
            if key in EXTRA_KEYS:
                if key in RUN_OPTIONS:
                    run_option(key, value)  # a bad value stops here, before anything is priced
                continue
            raise TunewiseError(f"unknown --answer key '{key}'", exit_code=2,
                                hint=f"use one of {', '.join(sorted(set(ANSWER_KEYS) - set('12345')))} or {', '.join(EXTRA_KEYS)}")
        found = reader.extract(value, focus=fact)
        facts.update(absorb(facts, found, asked=fact))
        if fact not in {f.fact for f in found}:
            raise TunewiseError(f"could not read --answer {key}={value!r}", exit_code=2,
                                hint=f"answer the question: {question(fact)[0]}")
        facts[fact]["evidence"] = f"--answer {key}={value}"
    update: dict = {"status": "interviewing", "validation": None}
    if state.get("data_path"):
        update["validation"] = validation_summary(state["data_path"])
        facts["examples"] = {"value": update["validation"]["good_examples"], "source": "inferred",
                             "evidence": update["validation"]["summary"]}
        if not ({"behaviour", "knowledge", "problem"} & facts.keys()):
            facts["behaviour"] = {"value": True, "source": "inferred",
                                  "evidence": "--data gives examples of the wanted answers: a behaviour to learn"}
    if state.get("docs_dir") and "knowledge" not in facts and "problem" not in facts:
        facts["knowledge"] = {"value": True, "source": "inferred", "evidence": "--docs gives documents to answer from"}
    update["facts"] = facts
    return update


def validation_summary(path: str) -> dict:
    from tools.validate import ValidateInput, run

    result = run(ValidateInput(path=path))
    flawed = sum(result.warning_counts.get(code, 0) for code in ("duplicate", "near_duplicate", "conflicting_answers"))
    good = max(0, result.valid_examples - flawed)
    summary = (f"{result.valid_examples} valid of {result.examples} examples in {path} (tunewise validate)"
               + (f", {flawed} duplicates or conflicts left out" if flawed else ""))
    return {"path": path, "format": result.format, "examples": result.examples, "valid_examples": result.valid_examples,
            "good_examples": good, "errors": len(result.errors), "error_counts": dict(result.error_counts),
            "warning_counts": dict(result.warning_counts), "tokens_total": result.tokens.total,
            "tokens_trained": result.tokens.trained, "tokens_per_example_mean": result.tokens.per_example.mean,
            "estimated_training_cost_usd": result.estimated_training_cost_usd, "summary": summary}


def _record(key: str, fact: str, entry: dict | None, answer: Any = None) -> dict:
    text = question(fact)[0]
    if entry is None:
        return {"step": key, "question": text, "answer": None, "source": "inferred",
                "evidence": "not needed: the recommendation is the same whatever the answer"}
    return {"step": key, "question": text, "answer": entry["value"] if answer is None else answer,
            "source": entry["source"], "evidence": entry["evidence"]}


def make_step(key: str, fact: str, title: str):
    def step(state: AgentState, runtime: Runtime[Context]) -> dict:
        facts = state.get("facts") or {}
        entry = problem_fact(facts) if fact == "problem" else facts.get(fact)
        have = {**known(facts), "openai_status": openai_status(state)}
        if entry is None and not relevant(fact, have):
            return {"steps": {key: _record(key, fact, None)}}
        if entry is not None:
            return {"steps": {key: _record(key, fact, entry, _answer(key, state, have))}}
        text, why = question(fact)
        tries = (state.get("retries") or {}).get(key, 0)
        if not state.get("interactive", True) or tries > MAX_RETRIES:
            return _assume(key, fact, state, tries)
        retry = None if tries == 0 else f"Sorry, I could not read that. {text}"
        reply = interrupt({"type": "question", "step": key, "title": title, "question": text, "why": why, "retry": retry})
        # Everything below runs only once the person has answered: reading the reply is this node's only effect.
        reply = str(reply if not isinstance(reply, dict) else reply.get("answer", "")).strip()
        talk = [{"role": "agent", "text": text}, {"role": "user", "text": reply}]
        if not reply or SKIP.match(reply):
            update = _assume(key, fact, state, tries)
            update["transcript"] = talk
            return update
        found = interviewer_of(runtime).extract(reply, focus=fact)
        new = absorb(facts, found, asked=fact)
        if fact == "problem" and "problem" not in new and ({"behaviour", "knowledge"} & new.keys()):
            cues = {k: v for k, v in new.items() if k in ("behaviour", "knowledge")}
            new["problem"] = {**problem_fact(cues), "source": "asked"}
        if fact not in new:
            return {"retries": {key: tries + 1}, "transcript": talk}
        have = {**known({**facts, **new}), "openai_status": openai_status(state)}
        return {"facts": new, "transcript": talk,
                "steps": {key: _record(key, fact, new[fact], _answer(key, state, have))}}

    step.__name__ = f"step_{key}"
    step.__doc__ = f"Step {title}"
    return step


def _answer(key: str, state: AgentState, have: dict) -> Any:
    """Step 5's answer is the path itself; the other steps answer with their fact."""
    if key != "path":
        return None
    return pick_path(Facts(**{**defaults(), **have, "openai_status": openai_status(state)}))[0]


def _assume(key: str, fact: str, state: AgentState, tries: int) -> dict:
    value, evidence = ASSUMED[fact]
    if tries:
        evidence += " (the reply could not be read)"
    entry = {"value": value, "source": "assumed", "evidence": evidence}
    have = known({**(state.get("facts") or {}), fact: entry})
    text, why = question(fact)
    return {"facts": {fact: entry}, "steps": {key: _record(key, fact, entry, _answer(key, state, have))},
            "questions": [{"step": key, "question": text, "why": why, "assumed": value}]}


def defaults() -> dict:
    return {fact: value for fact, (value, _) in ASSUMED.items()}


def decide_node(state: AgentState) -> dict:
    """Apply the framework to the answers: the recommendation and its rationale."""
    facts = Facts(**{**defaults(), **known(state.get("facts") or {}), "openai_status": openai_status(state)})
    d = decide(facts)
    return {"recommendation": {"approach": d.approach, "fine_tune_path": d.fine_tune_path, "rationale": d.rationale},
            "decision": {**d.model_dump(), "facts": facts.model_dump()}}


def route_step(key: str):
    def route(state: AgentState) -> Literal["again", "next"]:
        return "next" if key in (state.get("steps") or {}) else "again"

    return route


def add_interview(builder: StateGraph) -> None:
    """Add intake, the five step nodes and decide; decide's outgoing edge is the caller's."""
    builder.add_node("intake", intake)
    names = [f"step_{key}" for key, _, _ in STEPS]
    for (key, fact, title), name in zip(STEPS, names):
        builder.add_node(name, make_step(key, fact, title))
    builder.add_node("decide", decide_node)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", names[0])
    for (key, _, _), name, nxt in zip(STEPS, names, names[1:] + ["decide"]):
        builder.add_conditional_edges(name, route_step(key), {"again": name, "next": nxt})


def build(checkpointer=None):
    builder = StateGraph(AgentState, context_schema=Context)
    add_interview(builder)
    builder.add_edge("decide", END)
    return builder.compile(checkpointer=checkpointer)


assert set(ASSUMED) == set(DOMAINS)  # every fact the interview may assume is one the decision enumerates
graph = build()
