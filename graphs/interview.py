"""The interview: one node per step of the framework, asking only what the goal text left open and what could
still change the recommendation, one question at a time, each with a line on why it matters.

`graphs.pipeline.add_interview(builder)` wires intake -> step_prompt -> ... -> step_path -> decide into any StateGraph over
`AgentState`; `graph` is the interview alone, for LangGraph Studio.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.plan import RUN_OPTIONS, run_option
from graphs.protocol import Answer, FactReading, Question, as_interrupt, reply_of
from graphs.state import (
    AgentState,
    Context,
    DataSummary,
    DecisionRecord,
    Finding,
    Interviewer,
    Node,
    Recommendation,
    context_of,
    merge_facts,
    plan_day,
)
from prompts import render
from tools.decision import ANSWER_KEYS, DOMAINS, STEP_TITLES, Facts, decide, describe_quality, pick_path, relevant
from tools.errors import TunewiseError, UsageError

RANK = {"assumed": 0, "inferred": 1, "stated": 2, "asked": 3}
SURE = 0.75  # below this a reading that could change the recommendation is asked about rather than trusted
INFERRED = 0.5  # the most an inference (similarity, not a stated phrase) counts as
MAX_RETRIES = 2  # after two replies it could not read, the agent assumes and says so rather than nagging
SKIP = re.compile(r"^\W*(skip|pass|don'?t know|dunno|not sure|no idea|unsure|\?+)\W*$", re.I)
ASSUMED: dict[str, tuple[Any, str]] = {
    "prompting": (
        "not_tried",
        "assumed: no careful prompt has been tried yet, so the framework's first step comes first",
    ),
    "problem": ("behaviour", "assumed: a behaviour problem (how the model answers, not what it knows)"),
    "examples": (0, "assumed: no training examples yet"),
    "stable": (True, "assumed: the wanted behaviour is stable"),
    "private": (True, "assumed: the data must stay in-house, the safe default until you say it may go to OpenAI"),
    "openai_customer": (
        False,
        "assumed: your organisation has not served a fine-tuned OpenAI model in the last 60 days, so OpenAI's "
        "fine-tuning no longer takes jobs from it",
    ),
}
EXTRA_KEYS = (
    "base_model",
    "requests_per_month",
    "collection",
    "teacher",
    "judge",
    *RUN_OPTIONS,
)  # read by the plan, not the interview


def question(fact: str) -> tuple[str, str]:
    """Return (the question, why it matters) for `fact`, from prompts/question_FACT.md."""
    text, why = render(f"question_{fact}").strip().split("\n", 1)
    return text.strip(), why.strip()


def describe(fact: str, value: Any) -> str:
    """Return a fact's value in words, as the list shows it."""
    if fact == "prompting":
        return {
            "not_tried": "not tried yet",
            "fell_short": "tried, and it fell short",
            "good_enough": "tried, and it is good enough (about 80% of the way, or close to the target)",
        }.get(value, str(value))
    if fact == "problem":
        return {
            "knowledge": "knowledge (facts the model lacks)",
            "behaviour": "behaviour (how it answers)",
            "both": "both knowledge and behaviour",
        }.get(value, str(value))
    if fact == "examples":
        return f"{value:,} good examples" if isinstance(value, int) else str(value)
    if fact == "data_quality":
        return describe_quality(str(value))
    if fact == "stable":
        return "stable for the coming months" if value else "likely to change soon"
    if fact == "private":
        return "must stay in-house" if value else "may go to OpenAI"
    return str(value)


def interviewer_of(runtime: Runtime[Context] | None) -> Interviewer:
    """Return the run's interviewer: the caller puts one in the run context (the CLI, the demo, agent/studio.py)."""
    ctx = runtime.context if runtime is not None else None
    if ctx is None or ctx.interviewer is None:
        raise TunewiseError(
            "no interviewer in the run context",
            hint="run the graph with context=Context(interviewer=...); agent/studio.py builds one for LangGraph Studio",
        )
    return ctx.interviewer


def endpoint_of(reader: Any) -> str | None:
    """Return the URL an interviewer sends text to (an LLM's endpoint), or None for a reader on this machine."""
    url = getattr(reader, "endpoint", None)
    return str(url) if url else None


def private_said(facts: dict | None) -> bool:
    """Tell whether the person said (or the goal read) that the data must stay in-house: not merely assumed."""
    entry = (facts or {}).get("private")
    return bool(entry and entry["value"] is True and entry["source"] != "assumed")


def reader_for(state: AgentState, runtime: Runtime[Context] | None) -> tuple[Interviewer, bool]:
    """Return the interviewer for the next reply and whether it replaced the run's: once the data must stay
    in-house, a hosted LLM reads nothing more and the run's local reader (Context.local_reader) answers instead.
    """
    from tools.privacy.destinations import EndpointPolicy, classify

    reader = interviewer_of(runtime)
    url = endpoint_of(reader)
    if url is None or not private_said(state.get("facts")):
        return reader, False
    where, host = classify(url, EndpointPolicy.from_env())
    if where != "hosted API":
        return reader, False
    local = runtime.context.local_reader if runtime is not None and runtime.context is not None else None
    if local is None:
        raise UsageError(
            f"the data must stay in-house, and the interviewer's LLM at {host} is a hosted API",
            hint="use --llm offline, or an LLM on your own endpoint (OPENAI_BASE_URL=http://HOST:PORT/v1)",
        )
    return local, True


def confidence(finding: Finding) -> float:
    """Return how sure the reader is of a finding, 0..1: its own figure, and an inference (similarity, not a stated
    phrase) never counts as sure. Facts the agent counted itself (--data) carry no figure and are sure.
    """
    sure = float(getattr(finding, "confidence", 1.0))
    return min(sure, INFERRED) if finding.how == "inferred" else sure


def absorb(facts: dict, findings: Sequence[Finding], *, asked: str | None = None) -> dict:
    """Return the facts that `findings` add or improve on (a finding never overrides a stronger source)."""
    out: dict = {}
    for f in findings:
        source = "asked" if f.fact == asked else f.how
        old = out.get(f.fact) or facts.get(f.fact)
        if old is None or RANK[source] >= RANK[old["source"]]:
            out[f.fact] = FactReading(
                value=f.value,
                source=source,
                evidence=f.evidence,
                confidence=1.0 if source == "asked" else confidence(f),
            ).entry()
    return out


def doubts(facts: dict, findings: Sequence[Finding], *, asked: str | None = None) -> dict[str, str]:
    """Return the facts read two different ways (in one text, or a reply against what was read before): fact ->
    the two readings, said so the person can be asked which is right. The fact a question asked for is its answer,
    no doubt.
    """
    seen: dict[str, tuple] = {
        k: (v["value"], v["evidence"]) for k, v in facts.items() if v["source"] in ("stated", "inferred")
    }
    out: dict[str, str] = {}
    for f in findings:
        if f.fact == asked or f.fact not in DOMAINS:
            continue
        if f.fact in seen and seen[f.fact][0] != f.value:
            (value, evidence) = seen[f.fact]
            out[f.fact] = f"I read two different answers: {value!r} (“{evidence}”) and {f.value!r} (“{f.evidence}”)"
        seen.setdefault(f.fact, (f.value, f.evidence))
    return out


def weak(entry: dict | None) -> bool:
    """Tell whether a reading is too unsure to decide on without asking: a low confidence (inferences count as low)."""
    return entry is not None and entry["source"] in ("inferred", "stated") and entry.get("confidence", 1.0) < SURE


def known(facts: dict) -> dict:
    """Return the facts as `decision.Facts` fields; the problem comes from an explicit answer or from the cues found."""
    out = {k: v["value"] for k, v in facts.items() if k in Facts.model_fields and k != "problem"}
    problem = problem_fact(facts)
    if problem:
        out["problem"] = problem["value"]
    return out


def problem_fact(facts: dict) -> dict | None:
    """Return the problem fact: the one answered, else derived from the behaviour / knowledge cues (both: "both",
    the strongest source, the weakest confidence); None when there is neither.
    """
    if "problem" in facts:
        return facts["problem"]
    cues = [facts[k] for k in ("behaviour", "knowledge") if k in facts]
    if not cues:
        return None
    value = "both" if len(cues) == 2 else "behaviour" if "behaviour" in facts else "knowledge"
    source = max((c["source"] for c in cues), key=RANK.__getitem__)
    evidence = " / ".join(dict.fromkeys(c["evidence"] for c in cues))
    return {
        "value": value,
        "source": source,
        "evidence": evidence,
        "confidence": min(c.get("confidence", 1.0) for c in cues),
    }


def openai_status(state: AgentState) -> str:
    """Return who may start an OpenAI fine-tuning job on the plan's day, from the dated catalogue."""
    from tools.costs.catalog import openai_catalog

    return openai_catalog().fine_tuning.status(plan_day(state))


# ---- nodes ------------------------------------------------------------------------------------------------------


def early_reading(state: AgentState, runtime: Runtime[Context] | None) -> Any:
    """Return the goal's reading the CLI started before the graph (rules now, the rest in the background), or None
    when there is none for this goal or the run is non-interactive.
    """
    reading = getattr(runtime.context, "reading", None) if runtime is not None and runtime.context else None
    if reading is None or reading.goal != (state.get("goal") or "") or not state.get("interactive", True):
        return None  # --non-interactive reads everything at once: nobody is waiting for a question
    return reading


def settle(state: AgentState, runtime: Runtime[Context] | None) -> dict:
    """Return the goal's full reading (similarity included) as a state update, once it is due: intake read only
    what the rules find, so the first question did not wait for the embedder. Deterministic given the state, so a
    node may call it again when it is re-run on resume.
    """
    if not state.get("reading_pending"):
        return {}
    reading = early_reading(state, runtime)
    goal = state.get("goal") or ""
    found = reading.result() if reading is not None else interviewer_of(runtime).extract(goal)
    facts = state.get("facts") or {}
    # Where the state still holds the quick pass's reading of the goal (the rules alone), the full reading replaces
    # it whatever its rank: the heads may leave a rule's "stated" reading only "inferred", to be asked, or drop a
    # count that counts something else (users, items to produce). A fact set since (asked, --answer) stays.
    quick = absorb({}, reading.quick) if reading is not None else {}
    stale = {k for k, entry in quick.items() if facts.get(k) == entry}
    base = {k: v for k, v in facts.items() if k not in stale}
    new = absorb(base, found)
    dropped: dict = {k: None for k in stale if k not in new}  # merge_facts removes them
    return {"facts": {**new, **dropped}, "doubts": doubts(base, found), "reading_pending": False}


def intake(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Read the goal, the --answer presets, the training file (validated) and the docs folder."""
    reader = interviewer_of(runtime)
    facts = dict(state.get("facts") or {})
    reading = early_reading(state, runtime)
    found = reading.quick if reading is not None else reader.extract(state.get("goal") or "")
    update: dict = {
        "status": "interviewing",
        "validation": None,
        "doubts": doubts({}, found),
        "reading_pending": reading is not None,
        "reader_caveat": reader.caveat(state.get("goal") or ""),
    }
    facts.update(absorb(facts, found))
    for key, value in (state.get("preset") or {}).items():
        fact = ANSWER_KEYS.get(key.lower())
        if fact is None:
            if key in EXTRA_KEYS:
                if key in RUN_OPTIONS:
                    run_option(key, value)  # a bad value stops here, before anything is priced
                continue
            raise UsageError(
                f"unknown --answer key '{key}'",
                hint=f"use one of {', '.join(sorted(set(ANSWER_KEYS) - set('12345')))} or {', '.join(EXTRA_KEYS)}",
            )
        found = reading.read_quickly(value, focus=fact) if reading is not None else []
        if fact not in {f.fact for f in found}:  # the rules alone could not read it: the full reader can wait
            found = reader.extract(value, focus=fact)
        facts.update(absorb(facts, found, asked=fact))
        if fact not in {f.fact for f in found}:
            raise UsageError(
                f"could not read --answer {key}={value!r}",
                hint=f"answer the question: {question(fact)[0]}",
            )
        facts[fact]["evidence"] = f"--answer {key}={value}"
    if data_path := state.get("data_path"):
        update["validation"] = validation_summary(data_path)
        facts["examples"] = {
            "value": update["validation"].good_examples,
            "source": "inferred",
            "evidence": update["validation"].summary,
        }
        measured = measure_step_1(state, update["validation"], runtime)
        if measured is not None:
            update["measurement"] = measured.model_dump(mode="json")
            if measured.verdict is not None:
                facts["prompting"] = {
                    "value": measured.verdict,
                    "source": "measured",
                    "evidence": measured.sentence(),
                    "confidence": 1.0,
                    "measurement": update["measurement"],
                }
        if not ({"behaviour", "knowledge", "problem"} & facts.keys()):
            facts["behaviour"] = {
                "value": True,
                "source": "inferred",
                "evidence": "--data gives examples of the wanted answers: a behaviour to learn",
            }
    if state.get("docs_dir") and "knowledge" not in facts and "problem" not in facts:
        facts["knowledge"] = {"value": True, "source": "inferred", "evidence": "--docs gives documents to answer from"}
    update["facts"] = facts
    return update


def validation_summary(path: str) -> DataSummary:
    """Validate the training file and summarise it for step 3 and the plan: good examples leave out the flawed."""
    from tools.dataset.validate import ValidateInput, run

    result = run(ValidateInput(path=path))
    flawed = sum(result.warning_counts.get(code, 0) for code in ("duplicate", "near_duplicate", "conflicting_answers"))
    good = max(0, result.valid_examples - flawed)
    summary = f"{result.valid_examples} valid of {result.examples} examples in {path} (tunewise validate)" + (
        f", {flawed} duplicates or conflicts left out" if flawed else ""
    )
    return DataSummary(
        path=path,
        format=result.format,
        examples=result.examples,
        valid_examples=result.valid_examples,
        good_examples=good,
        errors=len(result.errors),
        error_counts=dict(result.error_counts),
        warning_counts=dict(result.warning_counts),
        tokens_total=result.tokens.total,
        tokens_trained=result.tokens.trained,
        tokens_per_example_mean=result.tokens.per_example.mean,
        estimated_training_cost_usd=result.estimated_training_cost_usd,
        summary=summary,
    )


def _record(key: str, fact: str, entry: dict | None, answer: Any = None) -> dict:
    text = question(fact)[0]
    if entry is None:
        return {
            "step": key,
            "question": text,
            "answer": None,
            "source": "inferred",
            "evidence": "not needed: the recommendation is the same whatever the answer",
        }
    out = {
        "step": key,
        "question": text,
        "answer": entry["value"] if answer is None else answer,
        "source": entry["source"],
        "evidence": entry["evidence"],
    }
    if entry.get("measurement"):
        out["measurement"] = entry["measurement"]
    return out


def ask(step: str, title: str, fact: str, tries: int, *, read: str | None = None) -> str:
    """Stop the graph with the question for `fact` and return the reply's text ('' for Enter, or a reply that is not
    words). `tries` > 0 says why it is asked again; `read` says back an unsure reading. The interrupt is the node's
    only pause: everything after it runs once the person has answered.
    """
    text, why = question(fact)
    retry = None if tries == 0 else f"Sorry, I could not read that. {text}"
    request = Question(step=step, title=title, question=text, why=why, retry=retry, read=read)
    reply = reply_of(interrupt(as_interrupt(request)))
    return reply.text.strip() if isinstance(reply, Answer) else ""


Move = Literal["keep", "confirm", "ask", "skip"]


def step_move(fact: str, facts: dict, status: str, *, doubt: str | None = None) -> tuple[dict | None, Move]:
    """Return a step's reading and what an interactive interview does with it: keep it (known, or it cannot change
    the recommendation), confirm it (read two ways, or unsure, and it could change it), ask for it (unread, and it
    could), or skip the step (unread, and it cannot). `status` is OpenAI's fine-tuning status on the plan's day.
    """
    entry: dict | None = problem_fact(facts) if fact == "problem" else facts.get(fact)
    have = {**known(facts), "openai_status": status}
    if entry is None:
        return None, "ask" if relevant(fact, have) else "skip"
    # Ask rather than guess: a reading that conflicts with another, or an unsure one, when it could still change
    # the recommendation (`relevant` with this fact left open).
    if (
        entry["source"] in ("stated", "inferred")
        and bool(doubt or weak(entry))
        and relevant(fact, {k: v for k, v in have.items() if k != fact})
    ):
        return entry, "confirm"
    return entry, "keep"


def make_step(key: str, fact: str, title: str) -> Node:
    """Build the node of one framework step: record the fact when it is known or cannot change the
    recommendation, else ask for it (or assume it, non-interactive or after MAX_RETRIES unreadable replies).
    """

    def step(state: AgentState, runtime: Runtime[Context]) -> dict:
        facts: dict[str, Any] = state.get("facts") or {}
        have = {**known(facts), "openai_status": openai_status(state)}
        interactive = state.get("interactive", True)
        doubt = (state.get("doubts") or {}).get(fact)
        entry, move = step_move(fact, facts, openai_status(state), doubt=doubt)
        unsure = interactive and move == "confirm"
        if move == "skip":
            return {"steps": {key: _record(key, fact, None)}}
        if entry is not None and not unsure:
            return {"steps": {key: _record(key, fact, entry, _answer(key, state, have))}}
        text = question(fact)[0]
        tries = (state.get("retries") or {}).get(key, 0)
        if not interactive or tries > MAX_RETRIES:
            return _keep(key, fact, state, entry) if entry is not None else _assume(key, fact, state, tries)
        read = None
        if unsure and entry is not None:  # unsure implies an entry; said again for the type checker
            read = doubt or (
                f"I read “{entry['evidence']}” as: {describe(fact, entry['value'])}, but I am not sure. Enter keeps it."
            )
            if key in (state.get("steps") or {}):  # walked again: the goal's full reading changed what was settled
                read = f"Now that I have read your whole goal, one more check. {read}"
        reply = ask(key, title, fact, tries, read=read)
        # Everything below runs only once the person has answered: reading the reply is this node's only effect.
        talk = [{"role": "agent", "text": text}, {"role": "user", "text": reply}]
        settled = settle(state, runtime)  # the goal's full reading, merged while the person was typing
        facts = merge_facts(facts, settled.get("facts"))
        if not reply or SKIP.match(reply):
            update = (
                _keep(key, fact, {**state, "facts": facts}, entry, kept=not reply)
                if unsure and entry is not None
                else _assume(key, fact, state, tries)
            )
            return _with(update, settled, talk)
        reader, switched = reader_for({**state, "facts": facts}, runtime)
        if switched:  # said in the state, so the screen and --json name the reader that read the rest
            settled = {**settled, "interviewer": "offline"}
        found = reader.extract(reply, focus=fact)
        new = absorb(facts, found, asked=fact)
        if fact == "problem" and "problem" not in new and ({"behaviour", "knowledge"} & new.keys()):
            cues = problem_fact({k: v for k, v in new.items() if k in ("behaviour", "knowledge")})
            assert cues is not None  # the reply gave a behaviour or knowledge cue
            new["problem"] = {**cues, "source": "asked", "confidence": 1.0}
        if fact not in new:  # asked again: `asking` keeps route_step here even when a first walk recorded the step
            return _with({"retries": {key: tries + 1}, "asking": key}, settled, talk)
        conflicts = doubts(merge_facts(facts, settled.get("facts")), found, asked=fact)
        for other in conflicts:
            new.pop(other, None)  # keep the earlier reading; the other fact's step (or the confirm list) asks
        have = {**known({**facts, **new}), "openai_status": openai_status(state)}
        update = {
            "facts": new,
            "doubts": {fact: None, **conflicts},
            "steps": {key: _record(key, fact, new[fact], _answer(key, state, have))},
        }
        return _with(update, settled, talk)

    def node(state: AgentState, runtime: Runtime[Context]) -> dict:
        return {"asking": None, **step(state, runtime)}

    node.__name__ = f"step_{key}"
    node.__doc__ = f"Step {title}"
    return node


def _with(update: dict, settled: dict, talk: list[dict]) -> dict:
    """Return a step's update with the goal's full reading merged under it (the step's own facts win)."""
    out = {**settled, **update, "transcript": talk}
    out["facts"] = {**settled.get("facts", {}), **update.get("facts", {})}
    out["doubts"] = {**settled.get("doubts", {}), **update.get("doubts", {})}
    return out


def _keep(key: str, fact: str, state: AgentState, entry: dict, *, kept: bool = False) -> dict:
    """Keep an unsure reading the person let stand (Enter, skip) or that could not be checked: no asking twice.
    `kept`: the person was shown this reading and pressed Enter to keep it, so it is theirs now (asked), not the
    reader's guess; a skip or an unchecked reading keeps its source.
    """
    entry = {**entry, "confidence": 1.0}  # stored even when derived (problem from its cues), so it stays settled
    if kept:
        entry = {**entry, "source": "asked", "evidence": f"you kept my reading of “{entry['evidence']}”"}
    have = {**known({**(state.get("facts") or {}), fact: entry}), "openai_status": openai_status(state)}
    return {
        "facts": {fact: entry},
        "doubts": {fact: None},
        "steps": {key: _record(key, fact, entry, _answer(key, state, have))},
    }


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
    return {
        "facts": {fact: entry},
        "steps": {key: _record(key, fact, entry, _answer(key, state, have))},
        "questions": [{"step": key, "question": text, "why": why, "assumed": value}],
    }


def defaults() -> dict:
    """Return the value each fact is assumed to have when nobody says (ASSUMED), by fact."""
    return {fact: value for fact, (value, _) in ASSUMED.items()}


def measure_step_1(state: AgentState, validation: DataSummary, runtime: Runtime[Context]) -> Any:
    """Measure step 1 when `plan --measure-prompt` asked for it and the run context may spend on it: the price is
    checked against --budget first (a local model or endpoint costs nothing); None when no measurement was asked.
    """
    asked = state.get("measure")
    ctx = context_of(runtime)
    if not asked or ctx.measure is None:
        return None
    from tools.costs.plan_costs import eval_count
    from tools.measure.prompt import MIN_EXAMPLES, MeasureInput, billed, price

    if validation.valid_examples < MIN_EXAMPLES:
        raise UsageError(
            f"--measure-prompt needs at least {MIN_EXAMPLES} valid examples; {validation.path} has "
            f"{validation.valid_examples}",
            hint="add examples, or leave out --measure-prompt and answer step 1",
        )
    inp = MeasureInput(
        data=Path(validation.path),
        model=asked["model"],
        # the plan's split then holds out at least the sample (graphs/plan.py), so it is never trained on
        held_out=min(max(eval_count(validation.good_examples), asked.get("examples") or 50), validation.good_examples),
        examples=asked.get("examples") or 50,
        target=asked.get("target"),
        max_new_tokens=int((state.get("preset") or {}).get("max_new_tokens") or 256),
        out=ctx.settings.runs_dir / f"plan-{state.get('session') or 'studio'}" / "measure",
    )
    facts = state.get("facts") or {}
    private = dict(facts.get("private") or {}).get("value", True)  # unsaid, the data stays in-house
    if private is not False:  # the held-out examples go to the model measured: never to a hosted API
        from tools.privacy.destinations import flow, refuse_hosted

        refuse_hosted("measure", [flow(inp.model, "the held-out examples", ctx.policy)])
    cost = price(inp, validation.tokens_per_example_mean)
    budget = state.get("budget_usd")
    if billed(inp.model) and (budget is None or cost > budget):  # a paid endpoint needs a budget, however small
        raise UsageError(
            f"measuring step 1 on {asked['model']} costs about ${cost:.2f}"
            + (f", over the ${budget:.2f} budget" if budget is not None else ", and no --budget covers it"),
            hint="pass --budget USD that covers it, or measure with a local model (--prompt-model hf:PATH)",
        )
    return ctx.measure(inp, cost)


def decide_node(state: AgentState) -> dict:
    """Apply the framework to the answers: the recommendation, its rationale, and where the article's table and the
    path the plan runs differ (OpenAI's wind-down), the sentence that says why.
    """
    from tools.costs.catalog import openai_catalog
    from tools.costs.openai_access import path_note
    from tools.costs.plan_costs import PATHS

    facts = Facts(**{**defaults(), **known(state.get("facts") or {}), "openai_status": openai_status(state)})
    d = decide(facts)
    note = None
    if d.framework_path is not None and d.fine_tune_path is not None:
        base = (state.get("preset") or {}).get("base_model") or PATHS[d.fine_tune_path].get("base_model")
        model = PATHS[d.framework_path].get("model")
        customer = (state.get("facts") or {}).get("openai_customer")
        said_no = customer is not None and customer["value"] is False and customer["source"] != "assumed"
        note = path_note(
            openai_catalog(), d.framework_path, d.fine_tune_path, model, plan_day(state), base, said_no=said_no
        )
    rationale = d.rationale
    prompting: dict[str, Any] = dict((state.get("facts") or {}).get("prompting") or {})
    if prompting.get("source") == "measured":  # the rationale quotes the numbers step 1 was answered from
        rationale += f" Step 1 was {prompting['evidence']}."
    return {
        "recommendation": Recommendation(
            approach=d.approach,
            fine_tune_path=d.fine_tune_path,
            rationale=rationale,
            framework_path=d.framework_path,
            path_note=note,
        ),
        "decision": DecisionRecord(**d.model_dump(), facts=facts),
    }


def make_customer_step() -> Node:
    """Build the node that asks, when and only when it decides the path, whether OpenAI still takes fine-tuning jobs
    from this organisation: the article's table picks an OpenAI path and the day admits only existing customers.
    """

    def node(state: AgentState, runtime: Runtime[Context]) -> dict:
        from tools.decision import framework_path

        facts: dict[str, Any] = state.get("facts") or {}
        have = {**known(facts), "openai_status": openai_status(state)}
        table = framework_path(Facts(**{**defaults(), **have}))
        if have["openai_status"] != "existing_only" or not table.startswith("openai") or "openai_customer" in facts:
            return {"asking": None}
        fact, key = "openai_customer", "path"
        text, why = question(fact)
        tries = (state.get("retries") or {}).get("openai", 0)
        if not state.get("interactive", True) or tries > MAX_RETRIES:
            value, evidence = ASSUMED[fact]
            entry = {
                "value": value,
                "source": "assumed",
                "evidence": evidence + (" (the reply could not be read)" if tries else ""),
            }
            return {
                "asking": None,
                "facts": {fact: entry},
                "steps": _path_record(state, {**facts, fact: entry}),
                "questions": [{"step": key, "question": text, "why": why, "assumed": value}],
            }
        reply = ask(key, STEP_TITLES[key], fact, tries)
        talk = [{"role": "agent", "text": text}, {"role": "user", "text": reply}]
        reader, switched = reader_for(state, runtime)
        found = (
            [f for f in reader.extract(reply, focus=fact) if f.fact == fact] if reply and not SKIP.match(reply) else []
        )
        if not found and reply and not SKIP.match(reply):
            return {"retries": {"openai": tries + 1}, "asking": "openai", "transcript": talk}
        entry = (
            {"value": found[0].value, "source": "asked", "evidence": found[0].evidence, "confidence": 1.0}
            if found
            else {"value": ASSUMED[fact][0], "source": "assumed", "evidence": ASSUMED[fact][1]}
        )
        out = {
            "asking": None,
            "facts": {fact: entry},
            "steps": _path_record(state, {**facts, fact: entry}),
            "transcript": talk,
        }
        return {**out, "interviewer": "offline"} if switched else out

    node.__name__ = "step_openai"
    node.__doc__ = "Step 5, when OpenAI admits only existing customers: has the organisation served a fine-tune lately?"
    return node


def _path_record(state: AgentState, facts: dict) -> dict:
    """Return step 5's record again, its answer (the path) read with the facts as they now are."""
    entry = facts.get("private")
    if entry is None:
        return {}
    have = {**known(facts), "openai_status": openai_status(state)}
    return {"path": _record("path", "private", entry, _answer("path", state, have))}


def route_customer(state: AgentState) -> Literal["again", "next"]:
    """Route after the OpenAI-customer question: ask again while its reply could not be read."""
    return "again" if state.get("asking") == "openai" else "next"


def route_step(key: str) -> Callable[[AgentState], Literal["again", "next"]]:
    """Build the router after step `key`: on once the step is recorded and not asking again, else back to it."""

    def route(state: AgentState) -> Literal["again", "next"]:
        return "next" if key in (state.get("steps") or {}) and state.get("asking") != key else "again"

    return route


assert set(ASSUMED) == set(DOMAINS)  # every fact the interview may assume is one the decision enumerates
