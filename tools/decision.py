"""The decision: the reference article's five-step framework and its "common mistakes", as one pure function.

`decide(facts)` maps the step answers to an approach and, when fine-tuning, a path from step 5's table.
`relevant(fact, known)` says whether an unknown answer could still change the decision: the interview asks
only those.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Prompting = Literal["not_tried", "fell_short", "good_enough"]
Problem = Literal["knowledge", "behaviour", "both"]
# Step 3's "good": what the examples are like. Only reviewed, clean pairs of the wanted input and output teach the
# behaviour; the others must be collected or cleaned first (the reference article: "a model fine-tuned on bad
# examples learns the bad examples").
DataQuality = Literal["good", "unreviewed", "generated_unfiltered", "low_agreement", "inputs_only", "old_format"]
Approach = Literal["prompt_engineering", "rag", "fine_tune", "fine_tune_rag", "collect_more_data"]
Path = Literal["qlora_self_hosted", "openai_gpt41_mini", "openai_gpt41", "qlora_70b", "lora_70b"]
# Who may start an OpenAI fine-tuning job on the plan's date (tools/costs/openai_access.py reads it from the dated
# catalogue): anyone; only organisations that served a fine-tuned model in the last 60 days; nobody.
OpenAIStatus = Literal["open", "existing_only", "closed"]

MIN_GOOD_EXAMPLES = 50  # step 3: "fewer than 50 high-quality examples ... not enough signal"
COLLECT_MINIMUM = 100  # "at least 100 examples"; OpenAI recommends 50-100 as a minimum
COLLECT_TARGET = 500  # "results get meaningfully better at 500-1,000"
LARGE_DATASET = 10_000  # "past 10,000 you're usually in diminishing returns unless your task is very complex"


def _step(step: str, title: str | None = None, *aliases: str, reads: str, modifier: str | None = None) -> Any:
    """Describe a fact's place in the interview (read by the tables at the end of this module): its step, the step's
    title and --answer keys when the fact is the step's answer, its words on the confirm list when it qualifies the
    step, and what a reader (the LLM interviewer's schema) reports for it.
    """
    extra: dict[str, Any] = {"step": step, "reads": reads}
    if title is not None:
        extra.update(title=title, aliases=[title.split(".")[0], step, *aliases])
    if modifier is not None:
        extra["modifier"] = modifier
    return extra


class Facts(BaseModel):
    """The answers to the framework's five steps (defaults are the interview's assumptions).

    Each field's `json_schema_extra` says where it sits in the interview; STEPS, ANSWER_KEYS, MODIFIERS and the
    LLM interviewer's schema are all derived from it, so adding a fact is adding a field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    prompting: Prompting = Field(
        default="not_tried",
        description="Step 1: has a careful prompt been tried, and how far did it get.",
        json_schema_extra=_step(
            "prompt",
            "1. Can a better prompt solve it?",
            "prompting",
            reads='"not_tried" | "fell_short" | "good_enough" (good_enough: a prompt already gets about 80% of the way)',
        ),
    )
    prompt_large: bool = Field(
        default=False,
        description="Step 1: today's prompt is already large and costly at volume.",
        json_schema_extra=_step(
            "prompt",
            reads='"true" when today\'s prompt is long and costly on every request',
            modifier="today's prompt is large and costly",
        ),
    )
    problem: Problem = Field(
        default="behaviour",
        description="Step 2: a knowledge gap, a behaviour gap, or both.",
        json_schema_extra=_step(
            "problem",
            "2. Is the problem knowledge or behaviour?",
            reads='"knowledge" | "behaviour" | "both", when the text answers that question directly',
        ),
    )
    examples: int = Field(
        default=0,
        ge=0,
        description="Step 3: good examples of the wanted behaviour.",
        json_schema_extra=_step(
            "data",
            "3. Is there enough good training data?",
            "examples",
            reads='the number of good training examples, digits only (e.g. "8000"; "0" when they say they have none)',
        ),
    )
    data_quality: DataQuality = Field(
        default="good",
        description="Step 3: whether the examples can teach the behaviour (reviewed and clean), or what is wrong "
        "with them; unsaid, the examples counted are taken as good.",
        json_schema_extra=_step(
            "data",
            reads='"good" (reviewed or approved) | "unreviewed" (raw, nobody checked them, or a stated error rate) | '
            '"generated_unfiltered" (model-generated, nobody filtered them) | "low_agreement" (labels the '
            'annotators disagree on) | "inputs_only" (the inputs without the wanted outputs) | "old_format" (in a '
            "format the team is abandoning)",
            modifier="the examples are {value}",
        ),
    )
    stable: bool = Field(
        default=True,
        description="Step 4: the wanted behaviour will not change soon.",
        json_schema_extra=_step(
            "stability",
            "4. Is the behaviour stable?",
            "stable",
            reads='"true" when the wanted behaviour will stay the same, "false" when it will change soon',
        ),
    )
    private: bool = Field(
        default=True,
        description="Step 5: the data must stay in-house (may not go to OpenAI).",
        json_schema_extra=_step(
            "path",
            "5. Which path?",
            "private",
            "privacy",
            reads='"true" when the data must stay in-house, "false" when it may go to OpenAI',
        ),
    )
    complex_domain: bool = Field(
        default=False,
        description="Step 5: enterprise or complex, specialised domain.",
        json_schema_extra=_step(
            "path",
            reads='"true" for an enterprise or complex, specialised domain (legal, medical, finance)',
            modifier="a complex, specialised domain",
        ),
    )
    best_quality: bool = Field(
        default=False,
        description="Step 5: best quality wanted and the budget is flexible.",
        json_schema_extra=_step(
            "path",
            reads='"true" when the best quality is wanted and the budget is flexible',
            modifier="best quality, budget flexible",
        ),
    )
    fast_iteration: bool = Field(
        default=False,
        description="Step 5: the team wants to iterate fast.",
        json_schema_extra=_step(
            "path",
            reads='"true" when the team wants to move or iterate fast',
            modifier="fast iteration matters",
        ),
    )
    # Not read from the person: the dated catalogue says it for the plan's day (tools/costs/openai_access.py).
    openai_status: OpenAIStatus = Field(
        default="open", description="Who OpenAI still takes new fine-tuning jobs from on the plan's date."
    )
    openai_customer: bool = Field(
        default=False,
        description="Step 5: the organisation served a fine-tuned OpenAI model in the last 60 days (OpenAI's rule for "
        "who may still create jobs); unsaid, it did not.",
        json_schema_extra=_step(
            "path",
            reads='"true" when the organisation already serves (or served in the last 60 days) a fine-tuned OpenAI '
            'model, "false" when it says it never fine-tuned with OpenAI',
        ),
    )


class Cues(BaseModel):
    """What a reader may also report that is not itself a step's answer: the cues step 2's answer is derived from
    (both cues: "both"), and the traffic the plan prices serving for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    behaviour: bool = Field(
        default=False,
        json_schema_extra=_step(
            "problem",
            reads='"true" when the text wants the model to behave differently (tone, format, style, terminology, task)',
        ),
    )
    knowledge: bool = Field(
        default=False,
        json_schema_extra=_step(
            "problem",
            reads='"true" when the text wants the model to know or look up facts (docs, prices, products, policies)',
        ),
    )
    requests_per_month: int = Field(
        default=0, ge=0, json_schema_extra=_step("path", reads="the monthly request volume, digits only")
    )


class Decision(BaseModel):
    """The recommended approach, why, and the fine-tuning path (set only when the approach fine-tunes)."""

    model_config = ConfigDict(frozen=True)
    approach: Approach
    fine_tune_path: Path | None = Field(description="Set only when the approach fine-tunes.")
    path_if_fine_tuning: Path = Field(description="Step 5's answer: the path that fits these constraints.")
    framework_path: Path | None = Field(
        default=None, description="The article's step-5 table, OpenAI's access left aside; set when fine-tuning."
    )
    rationale: str
    notes: list[str] = Field(default_factory=list)
    collect: dict | None = Field(default=None, description="For collect_more_data: have, minimum, target, what.")


def framework_path(f: Facts) -> Path:
    """Return the article's step-5 table for these answers, as if OpenAI's fine-tuning were open to everyone."""
    enterprise = f.complex_domain or f.examples >= LARGE_DATASET
    if f.best_quality:
        return "lora_70b"
    if f.private:
        return "qlora_70b" if enterprise else "qlora_self_hosted"
    return "openai_gpt41" if enterprise else "openai_gpt41_mini"


def pick_path(f: Facts) -> tuple[Path, list[str]]:
    """Return the path the plan can run on its date and its notes: the table's pick, or where that is an OpenAI path
    this organisation can no longer use, the self-hosted equivalent (said why).
    """
    table = framework_path(f)
    if not table.startswith("openai"):
        return table, []
    self_hosted: Path = "qlora_70b" if table == "openai_gpt41" else "qlora_self_hosted"
    if f.openai_status == "closed":
        return self_hosted, ["OpenAI no longer takes new fine-tuning jobs, so the self-hosted equivalent is chosen."]
    if f.openai_status == "existing_only" and not f.openai_customer:
        return self_hosted, [
            "OpenAI's fine-tuning is closed to organisations that have not served a fine-tuned model in the last "
            "60 days, so the self-hosted equivalent is chosen."
        ]
    if f.openai_status == "existing_only":
        return table, [
            "OpenAI takes fine-tuning jobs only from organisations that served a fine-tuned model in the last 60 "
            "days, yours among them; the fine-tuned model serves only until its base model shuts down."
        ]
    return table, []


_PATH_WHY = {
    "qlora_self_hosted": "the data must stay in-house, so QLoRA on an open model you host yourself",
    "qlora_70b": "a complex domain or a large dataset with data that stays in-house, so QLoRA on a 70B model",
    "openai_gpt41_mini": "the data may go to OpenAI{fast}, so OpenAI's fine-tuning API on gpt-4.1-mini, the quickest route",
    "openai_gpt41": "an enterprise-scale or complex domain whose data may go to OpenAI, so OpenAI fine-tuning on gpt-4.1",
    "lora_70b": "best quality with a flexible budget, so LoRA on a 70B model on H100s",
}
# Why a self-hosted path stands in for the table's OpenAI pick (the note says what closed).
_INSTEAD_WHY = {
    "qlora_self_hosted": "the data may go to OpenAI, but the table's OpenAI route is not open to you: QLoRA on an "
    "open model you host yourself",
    "qlora_70b": "an enterprise-scale or complex domain whose data may go to OpenAI, but the table's OpenAI route is "
    "not open to you: QLoRA on a 70B model you host yourself",
}


# Why examples of each quality cannot teach the behaviour yet, and what turns them into good ones.
QUALITY_WHY: dict[str, tuple[str, str]] = {
    "unreviewed": ("nobody has reviewed them, so the model would learn their mistakes too", "review them"),
    "generated_unfiltered": (
        "they were generated by a model and nobody filtered them, so fine-tuning would copy that model's errors",
        "filter or review them",
    ),
    "low_agreement": (
        "the people who labelled them disagree too often for the labels to be a signal",
        "settle the guidelines and relabel them",
    ),
    "inputs_only": (
        "they hold the inputs but not the wanted outputs, and a model learns from the outputs",
        "write the outputs",
    ),
    "old_format": ("they are in a format the team is abandoning, so they teach the old behaviour", "rewrite them"),
}


def describe_quality(value: str) -> str:
    """Return a data quality in the confirm list's words."""
    return {
        "good": "reviewed and clean",
        "unreviewed": "unreviewed",
        "generated_unfiltered": "model-generated and unfiltered",
        "low_agreement": "labelled with low agreement",
        "inputs_only": "inputs without the wanted outputs",
        "old_format": "in a format being abandoned",
    }.get(value, value)


def decide(f: Facts) -> Decision:
    """Apply the framework in the article's order; the first rule that settles the question wins."""
    path, notes = pick_path(f)
    both = f.problem == "both"
    knowledge_why = (
        "a knowledge gap is closed by retrieval: a better prompt cannot add facts the model lacks, "
        "and fine-tuning does not reliably teach them"
    )

    def result(approach: Approach, why: list[str], collect: dict | None = None) -> Decision:
        tuned = approach in ("fine_tune", "fine_tune_rag")
        said = notes if tuned else []  # OpenAI's availability is said wherever it bears on the recommendation
        return Decision(
            approach=approach,
            fine_tune_path=path if tuned else None,
            path_if_fine_tuning=path,
            framework_path=framework_path(f) if tuned else None,
            rationale=" ".join([*(s[0].upper() + s[1:] + "." for s in why), *said]),
            notes=said,
            collect=collect,
        )

    if f.problem == "knowledge":
        return result("rag", [f"The problem is knowledge, not behaviour: {knowledge_why}"])
    lead = [f"The problem is behaviour and knowledge; {knowledge_why}"] if both else []
    soft: Approach = "rag" if both else "prompt_engineering"
    soft_what = "RAG, with the behaviour handled in the system prompt" if both else "prompt engineering"
    if not f.stable:
        return result(
            soft,
            lead
            + [
                f"the wanted behaviour will change soon, and every change would mean a new "
                f"fine-tuning run, so keep it flexible: {soft_what}"
            ],
        )
    if not f.prompt_large:
        if f.prompting == "not_tried":
            return result(
                soft,
                lead
                + [
                    f"a careful system prompt with 3-5 few-shot examples has not been tried yet; "
                    f"it is free and immediate, so start with {soft_what} and fine-tune only "
                    f"if it falls short"
                ],
            )
        if f.prompting == "good_enough":
            return result(
                soft,
                lead
                + [
                    f"the prompt already gets about 80% or more of the way, or close to its target, so "
                    f"fine-tuning may not be needed: {soft_what}"
                ],
            )
    elif f.prompting != "fell_short":
        lead.append(
            "today's prompt is already large and costly at volume, and fine-tuning bakes that behaviour "
            "into the weights so every request gets shorter and cheaper"
        )
    what = (
        "clean, correct examples of exactly the wanted behaviour (input plus the ideal answer), "
        "distributed like real requests"
    )
    if f.data_quality != "good":
        problem, fix = QUALITY_WHY[f.data_quality]
        held = f"the {f.examples:,} examples you have" if f.examples else "the examples you have"
        collect = {
            "have": 0,
            "minimum": COLLECT_MINIMUM,
            "target": COLLECT_TARGET,
            "what": what,
            "quality": f.data_quality,
            "raw": f.examples,
            "fix": fix,
        }
        extra = ["meanwhile, index the knowledge for RAG"] if both else []
        return result(
            "collect_more_data",
            lead
            + [
                f"{held} are not yet good training data: {problem}; {fix} first, to at least {COLLECT_MINIMUM} "
                f"good examples and aiming for {COLLECT_TARGET}"
            ]
            + extra,
            collect,
        )
    if f.examples < MIN_GOOD_EXAMPLES:
        collect = {"have": f.examples, "minimum": COLLECT_MINIMUM, "target": COLLECT_TARGET, "what": what}
        extra = ["meanwhile, index the knowledge for RAG"] if both else []
        return result(
            "collect_more_data",
            lead
            + [
                f"there are {f.examples} good examples, fewer than the {MIN_GOOD_EXAMPLES} that fine-tuning needs to "
                f"have enough signal, so collect more first: at least {COLLECT_MINIMUM - f.examples} more to reach "
                f"{COLLECT_MINIMUM}, aiming for {COLLECT_TARGET}; {what}"
            ]
            + extra,
            collect,
        )
    tried = "prompting fell short" if f.prompting == "fell_short" else "the prompt is costly at volume"
    why = lead + [
        f"the behaviour is stable, {tried}, and there are {f.examples:,} good examples, so fine-tune; "
        + (
            _PATH_WHY[path].format(fast=" and fast iteration matters" if f.fast_iteration else "")
            if path == framework_path(f)
            else _INSTEAD_WHY[path]
        )
    ]
    if both:
        why.append("fine-tune for behaviour, retrieve for knowledge")
    return result("fine_tune_rag" if both else "fine_tune", why)


# Values that stand for every case the rules distinguish (examples: below 50, enough, large). The examples' quality
# is not among them: it is read, never asked, so unread it stays at its default (good) rather than making every
# other question relevant; read, it is one of `relevant`'s known facts like any other.
DOMAINS: dict[str, tuple] = {
    "prompting": ("not_tried", "fell_short", "good_enough"),
    "problem": ("knowledge", "behaviour", "both"),
    "examples": (0, MIN_GOOD_EXAMPLES, LARGE_DATASET),
    "stable": (True, False),
    "private": (True, False),
    "openai_customer": (True, False),
}


def relevant(fact: str, known: dict) -> bool:
    """Return True when some value of the unknown `fact` changes the decision, for some values of the other unknowns."""
    fixed = {k: v for k, v in known.items() if k in Facts.model_fields}
    others = [k for k in DOMAINS if k != fact and k not in fixed]
    for combo in itertools.product(*(DOMAINS[k] for k in others)):
        base = {**fixed, **dict(zip(others, combo))}
        outcomes = {_outcome(decide(Facts(**base, **{fact: v}))) for v in DOMAINS[fact]}
        if len(outcomes) > 1:
            return True
    return False


def _outcome(d: Decision) -> tuple:
    return d.approach, d.fine_tune_path


# ---- the interview's vocabulary, derived from the fields' descriptions above ------------------------------------


def _extras(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    return {
        name: dict(field.json_schema_extra)
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict)
    }


_FACT_EXTRAS = _extras(Facts)
# The framework's steps in order: (key, the fact that answers it, title).
STEPS: list[tuple[str, str, str]] = [(x["step"], name, x["title"]) for name, x in _FACT_EXTRAS.items() if "title" in x]
PRIMARY: dict[str, str] = {key: fact for key, fact, _ in STEPS}  # step key -> the fact that answers it
STEP_TITLES: dict[str, str] = {key: title for key, _, title in STEPS}
# --answer keys (and the confirm list's item numbers) -> the fact they answer.
ANSWER_KEYS: dict[str, str] = {alias: name for name, x in _FACT_EXTRAS.items() for alias in x.get("aliases", [])}
# The facts that qualify a step's answer, in words for the confirm list, grouped under that answer.
MODIFIERS: dict[str, str] = {name: x["modifier"] for name, x in _FACT_EXTRAS.items() if "modifier" in x}
STEP_MODIFIERS: dict[str, tuple[str, ...]] = {
    fact: tuple(m for m in MODIFIERS if _FACT_EXTRAS[m]["step"] == key) for key, fact, _ in STEPS
}
# Everything a reader may report, with what it reports (the LLM interviewer's schema and system prompt).
READS: dict[str, str] = {name: x["reads"] for name, x in {**_FACT_EXTRAS, **_extras(Cues)}.items()}
COUNTS: tuple[str, ...] = tuple(
    name
    for model in (Facts, Cues)
    for name, field in model.model_fields.items()
    if field.annotation is int and name in READS
)


def choices(fact: str) -> tuple[str, ...] | None:
    """Return the values a fact takes when it is one of a few words (prompting, problem), else None."""
    field = Facts.model_fields.get(fact)
    args = get_args(field.annotation) if field is not None else ()
    return tuple(str(a) for a in args) if args and all(isinstance(a, str) for a in args) else None
