"""The agent's state and its typed plan: values the SQLite checkpointer can store, and never a secret.

The plan (`Plan`, its `PlanStep`s with their typed inputs) and the steps' results (`StepResult` and its kinds) are
pydantic models; their JSON (`model_dump(mode="json")`) is the `--json` contract and what an approval hashes, so a
field that was absent from the plan's JSON when unset is left out again (`_Record`).

Side-effect objects (the interviewer with its client, the step runners) travel in the run `Context`, which
LangGraph hands to nodes but never writes to the session database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Callable,
    Literal,
    Mapping,
    NotRequired,
    Protocol,
    Sequence,
    TypedDict,
    Union,
)

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.approval import Approval
from tools.costs.plan_costs import TrainingEstimate
from tools.costs.this_machine import HereEstimate
from tools.dataset.few_shot import Shot
from tools.decision import STEPS, Approach, Decision, Facts
from tools.decision import Path as FineTunePath
from tools.machine import Machine, probe
from tools.privacy.destinations import DataFlow, EndpointPolicy
from tools.rag.index_plan import IndexPlan
from tools.records import OmitNone
from tools.settings import Settings, get_settings

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

Source = Literal["stated", "inferred", "asked", "assumed", "measured"]
# planned: nothing in the plan can run (no data or docs yet, or nothing to spend on), so the plan is the result.
Status = Literal[
    "interviewing",
    "awaiting_answer",
    "awaiting_approval",
    "over_budget",
    "approved",
    "rejected",
    "executing",
    "planned",
    "completed",
    "failed",
]

# The framework's steps in order: (key, primary fact the step resolves, title), from `Facts`' fields.
STEP_OF_FACT = {fact: key for key, fact, _ in STEPS}


def plan_day(state: Mapping[str, Any]) -> dt.date:
    """Return the day a plan is made for: the state's pinned day (tests, `--today`), else today."""
    day = state.get("today")
    return dt.date.fromisoformat(day) if day else dt.date.today()


def merge(left: dict | None, right: dict | None) -> dict:
    """Reducer: later keys win, so each node returns only what it learned."""
    return {**(left or {}), **(right or {})}


def merge_facts(left: dict | None, right: dict | None) -> dict:
    """Reducer for the facts: later keys win, and a fact set to None is removed (the goal's full reading no longer
    finds what its quick pass read: graphs.interview.settle).
    """
    return {k: v for k, v in {**(left or {}), **(right or {})}.items() if v is not None}


def append(left: list | None, right: list | None) -> list:
    """Reducer: concatenate, so each node returns only the items it adds."""
    return [*(left or []), *(right or [])]


class Fact(TypedDict):
    """One fact as the state stores it (graphs.protocol.FactReading's `entry()`): its value, where it came from, the
    words it was read from, and how sure the reader was (absent for facts never scored, as older sessions hold them).
    """

    value: Any
    source: Source
    evidence: str
    confidence: NotRequired[float]
    measurement: NotRequired[dict[str, Any]]  # step 1 measured (tools/measure/prompt.Measurement's JSON)


class StepRecord(TypedDict):
    """One framework step as answered: its question, the answer, and the answer's source and evidence."""

    step: str
    question: str
    answer: Any
    source: Source
    evidence: str


# ---- the typed plan ---------------------------------------------------------------------------------------------

StepName = Literal["synthesize", "split", "index", "train", "eval", "deploy"]
# the approved steps, in the order they run
EXECUTION: list[StepName] = ["synthesize", "split", "index", "train", "eval", "deploy"]


class _Record(OmitNone):
    """A model whose optional extras are left out of its JSON when unset, as the plan's JSON always had them."""

    model_config = ConfigDict(extra="forbid")


class SynthInputs(_Record):
    """The synthesize step: the seeds, how many drafts (and how many examples are still missing), the teacher and
    the judge (None: a private plan with no local teacher named), and the real examples held out first.
    """

    seeds: str | None
    n: int
    missing: int
    teacher: str | None
    judge: str | None
    held_out: int


class SplitInputs(_Record):
    """The split step: the training file and how many examples it keeps aside."""

    path: str | None
    eval: int


class IndexInputs(_Record):
    """The index step: the documents and the collection they go to."""

    paths: list[str]
    collection: str


class TrainInputs(_Record):
    """The train step: backend, model and GPU as priced, and the `--answer` run settings."""

    omit_if_none = frozenset({"launcher", "processes", "gpus", "max_steps", "lr", "gradient_checkpointing"})
    backend: str
    model: str | None
    gpu: str | None
    base_model: str | None
    option: str
    launcher: str | None = None  # "accelerate" on the 70B paths: one process per GPU
    processes: int | None = None
    gpus: int | None = None
    max_steps: int | None = None
    lr: float | None = None
    gradient_checkpointing: bool | None = None


class EvalInputs(_Record):
    """The eval step: how many held-out examples, which candidates, and the model a prompt-only plan prompts."""

    omit_if_none = frozenset({"model", "max_new_tokens", "target", "metric"})
    examples: int
    candidates: list[str]
    model: str | None = None
    max_new_tokens: int | None = None
    target: float | None = None  # step 1's target and metric, when it was measured: the eval says the gap-closure
    metric: str | None = None


class DeployInputs(_Record):
    """The deploy step: it ships what the train and index steps made; a plan that trains nothing names the model it
    serves (the one its eval step prompts). A private plan's deployment is marked private (`Plan.private`).
    """

    omit_if_none = frozenset({"model", "tensor_parallel"})
    model: str | None = None
    tensor_parallel: int | None = None  # the 70B paths: vLLM spreads the model over the GPUs training used


StepInputs = Union[SynthInputs, SplitInputs, IndexInputs, TrainInputs, EvalInputs, DeployInputs]
INPUTS: dict[str, type[_Record]] = {
    "synthesize": SynthInputs,
    "split": SplitInputs,
    "index": IndexInputs,
    "train": TrainInputs,
    "eval": EvalInputs,
    "deploy": DeployInputs,
}


class PlanStep(_Record):
    """One step of the plan: the tool it calls, its price and time, whether it can run, and its inputs."""

    omit_if_none = frozenset({"blocked_by", "data_flow", "here"})
    step: StepName
    tool: str
    cost_usd: float = 0.0
    hours: float = 0.0
    runnable: bool = True
    inputs: StepInputs
    description: str = ""
    blocked_by: str | None = None  # why it cannot run, when it cannot
    # Where the step sends the user's data (tools/privacy). None only in plans made before it was recorded.
    data_flow: list[DataFlow] | None = None
    # The step on the machine the plan was made on (tools/costs/this_machine): its time there, or that it needs a
    # GPU that machine lacks. None for steps with nothing to say, and in plans made before it was recorded.
    here: HereEstimate | None = None

    @model_validator(mode="before")
    @classmethod
    def _inputs_of_the_step(cls, data: Any) -> Any:
        """Read `inputs` as the model of the step it belongs to (a union alone could pick the wrong one)."""
        if isinstance(data, dict) and isinstance(data.get("inputs"), dict) and data.get("step") in INPUTS:
            data = {**data, "inputs": INPUTS[data["step"]].model_validate(data["inputs"])}
        return data


class StarterPrompt(_Record):
    """A system prompt written from the goal, and few-shot examples drawn from the data."""

    system: str
    few_shot: list[Shot]


class DataSummary(_Record):
    """What `tunewise validate` found in the training file, as the plan and step 3 use it."""

    path: str
    format: str | None
    examples: int
    valid_examples: int
    good_examples: int  # valid, less duplicates and conflicting answers
    errors: int
    error_counts: dict[str, int]
    warning_counts: dict[str, int]
    tokens_total: int
    tokens_trained: int
    tokens_per_example_mean: float
    estimated_training_cost_usd: float | None
    summary: str


class Plan(_Record):
    """The costed plan: the recommendation, its steps, what they cost, and the risks; what an approval covers."""

    omit_if_none = frozenset({"estimate", "private", "data_leaves", "interview_data_flow", "machine"})
    approach: Approach
    fine_tune_path: str | None
    rationale: str
    notes: list[str]
    validation: DataSummary | None
    steps: list[PlanStep]
    risks: list[str]
    assumptions: list[str]
    starter_prompt: StarterPrompt | None
    index_plan: IndexPlan | None
    collect: dict[str, Any] | None  # collect_more_data: have, minimum, target, what
    estimate: TrainingEstimate | None = None
    total_usd: float
    total_hours: float
    # Privacy (tools/privacy): the fact the plan was made under, the approval's one line on whether data leaves
    # this machine, and where the interview itself sent the goal and the answers. None in plans made before.
    private: bool | None = None
    data_leaves: str | None = None
    interview_data_flow: list[DataFlow] | None = None
    machine: str | None = None  # what the plan's machine has ("2 CPU cores, no GPU"); None in plans made before

    def step(self, name: str) -> PlanStep | None:
        """Return the plan's step called `name`, or None when the plan has no such step."""
        return next((s for s in self.steps if s.step == name), None)

    def as_json(self) -> dict[str, Any]:
        """Return the plan's JSON: the `--json` contract, and what an approval hashes."""
        return self.model_dump(mode="json")


def plan_of(value: Plan | dict[str, Any] | None) -> Plan | None:
    """Return the state's plan as a `Plan` (a session saved before the plan was typed holds its JSON)."""
    return value if isinstance(value, Plan) or value is None else Plan.model_validate(value)


def validation_of(value: DataSummary | dict[str, Any] | None) -> DataSummary | None:
    """Return the state's data summary as a `DataSummary` (an older session holds its JSON)."""
    return value if isinstance(value, DataSummary) or value is None else DataSummary.model_validate(value)


# ---- what the decision and the run leave in the state ------------------------------------------------------------


class Recommendation(BaseModel):
    """The `--json` contract's recommendation: the approach, its path, why, and the note on OpenAI's access."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    approach: Approach
    fine_tune_path: FineTunePath | None
    rationale: str
    framework_path: FineTunePath | None = None
    path_note: str | None = None


class DecisionRecord(Decision):
    """The full decision, with the facts it was made from (what the plan and the steps read)."""

    facts: Facts


class ReportStep(BaseModel):
    """One executed step in the report."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    step: str
    status: str | None
    message: str | None
    seconds: float | None = None  # this step's last run, from the ledger; None in reports made before it was kept
    summary: str | None = None  # its key result in one line (graphs.outcome.key_result)


class Report(OmitNone):
    """What the run left: the steps with their times and results, the files built, the eval verdict, what was spent
    against what was approved, the deployment and how to serve it. Fields after `run_dir` are absent (their
    defaults) in reports of sessions saved before they existed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    omit_if_none = frozenset({"gap"})  # a report whose eval measured no gap-closure keeps the JSON it had
    approach: Approach | None
    steps: list[ReportStep]
    eval_verdict: str | None
    deployment: str | None
    serve: str | None
    starter_prompt: bool
    collect: dict[str, Any] | None
    run_dir: str | None
    recommendation: str | None = None  # "fine_tune_rag · qlora_self_hosted"
    files: dict[str, str] = Field(default_factory=dict)  # adapter, collection, eval_report, deployment
    spent_usd: float | None = None
    approved_usd: float | None = None
    gap: dict[str, Any] | None = None  # tools/evaluation/gap.Gap: did fine-tuning earn its cost?


def recommendation_of(value: Recommendation | dict[str, Any] | None) -> Recommendation | None:
    """Return the state's recommendation as a model (a session saved before it was typed holds a dict)."""
    if isinstance(value, Recommendation):
        return value
    return Recommendation.model_validate(value) if value else None


def decision_of(value: DecisionRecord | dict[str, Any] | None) -> DecisionRecord | None:
    """Return the state's decision as a model (an older session holds a dict)."""
    if isinstance(value, DecisionRecord):
        return value
    return DecisionRecord.model_validate(value) if value else None


def approval_of(value: Approval | dict[str, Any] | None) -> Approval | None:
    """Return the state's approval as a model (an older session holds a dict)."""
    if isinstance(value, Approval):
        return value
    return Approval.model_validate(value) if value else None


def report_of(value: Report | dict[str, Any] | None) -> Report | None:
    """Return the state's report as a model (an older session holds a dict)."""
    if isinstance(value, Report):
        return value
    return Report.model_validate(value) if value else None


# ---- what the steps return --------------------------------------------------------------------------------------


class StepResult(_Record):
    """A step's outcome; `skipped` and `unavailable` results carry only a message saying why."""

    omit_if_none = frozenset({"message"})
    status: str
    message: str | None = None


class SynthStepResult(StepResult):
    """The synthesize step: the counts per stage, what it spent, the review files and the training file they feed."""

    out: str
    review_jsonl: str
    review_html: str
    held_out_file: str
    counts: dict[str, int]
    pending: int
    cost_usd: float


class SplitResult(StepResult):
    """The split step: where the training and the held-out files are."""

    train: str
    eval: str
    summary: dict[str, Any]


class IndexResult(StepResult):
    """The index step: the collection and the Chroma folder it was written to."""

    collection: str
    db: str
    summary: dict[str, Any]


class TrainStepResult(StepResult):
    """The train step: the backend, and the OpenAI model or the local adapter it made."""

    omit_if_none = frozenset({"message", "model", "adapter"})
    backend: str
    model: str | None = None  # OpenAI: the fine-tuned model's name
    adapter: str | None = None  # local: the adapter folder
    run_dir: str
    summary: dict[str, Any]


class EvalStepResult(StepResult):
    """The eval step: the verdict, the winner and the report folder."""

    omit_if_none = frozenset({"message", "summary"})
    verdict: str
    winner: str | None
    report_dir: str
    summary: dict[str, Any] | None = None  # absent when a resumed session reused the finished report


class DeployStepResult(StepResult):
    """The deploy step: the deployment folder, what it ships, and the command that serves it."""

    omit_if_none = frozenset({"message", "serve", "summary"})
    path: str
    name: str
    model: str
    collection: str
    content_hash: str
    serve: str | None = None
    summary: dict[str, Any] | None = None


RESULTS: dict[str, type[StepResult]] = {
    "synthesize": SynthStepResult,
    "split": SplitResult,
    "index": IndexResult,
    "train": TrainStepResult,
    "eval": EvalStepResult,
    "deploy": DeployStepResult,
}


# The models the session database may rebuild from a checkpoint (LangGraph's msgpack allowlist).
STATE_TYPES = [
    ("graphs.state", cls.__name__)
    for cls in (
        Plan,
        PlanStep,
        SynthInputs,
        SplitInputs,
        IndexInputs,
        TrainInputs,
        EvalInputs,
        DeployInputs,
        StarterPrompt,
        DataSummary,
        StepResult,
        SynthStepResult,
        SplitResult,
        IndexResult,
        TrainStepResult,
        EvalStepResult,
        DeployStepResult,
        Recommendation,
        DecisionRecord,
        ReportStep,
        Report,
    )
] + [
    ("tools.approval", "Approval"),
    ("tools.decision", "Facts"),
    ("tools.costs.plan_costs", "TrainingEstimate"),
    ("tools.rag.index_plan", "IndexPlan"),
    ("tools.dataset.few_shot", "Shot"),
    ("tools.privacy.destinations", "DataFlow"),
    ("tools.costs.this_machine", "HereEstimate"),
]


def result_of(step: str, value: StepResult | dict[str, Any]) -> StepResult:
    """Read a step's recorded result (ledger JSON, or an older session's state) as its typed model."""
    if isinstance(value, StepResult):
        return value
    if set(value) <= {"status", "message"}:
        return StepResult.model_validate(value)
    return RESULTS[step].model_validate(value)


def results_of(executed: dict[str, Any] | None) -> dict[str, StepResult]:
    """Return every executed step's result as its typed model."""
    return {step: result_of(step, value) for step, value in (executed or {}).items()}


class AgentState(TypedDict, total=False):
    """The graph's state, checkpointed per session: the request, what the interview read, the plan, its approval
    and the steps' results. The Annotated keys are merged by their reducers; the rest are replaced.
    """

    session: str
    goal: str
    data_path: str | None
    docs_dir: str | None
    budget_usd: float | None
    interactive: bool
    preset: dict[str, str]  # --answer KEY=VALUE, read like answers to the questions
    today: str | None  # ISO date for OpenAI's availability; None means today (tests pin it)
    measure: dict[str, Any]  # step 1 to be measured: {"model", "examples", "target"} (plan --measure-prompt)
    measurement: dict[str, Any]  # what it measured (tools/measure/prompt.Measurement's JSON)
    interviewer: str  # "offline" or "llm:MODEL": said to the user, never a key
    reader_caveat: str | None  # why the reading of the goal needs checking (Interviewer.caveat: another language)
    facts: Annotated[dict[str, Fact], merge_facts]
    steps: Annotated[dict[str, StepRecord], merge]
    questions: Annotated[list[dict], append]  # asked of nobody and assumed (non-interactive)
    retries: Annotated[dict[str, int], merge]
    transcript: Annotated[list[dict], append]  # {"role": "agent"|"user", "text"}
    doubts: Annotated[dict[str, str | None], merge]  # fact -> why its reading is in doubt (two readings); None: settled
    reading_pending: bool  # intake read the goal with the rules only; the full reading is merged after the first answer
    asking: str | None  # the step that is asking again (its reply could not be read)
    confirmed: bool  # the person accepted the list of what was read (interactive); corrections reset it
    confirm_note: str | None  # why the last reply to the confirm list could not be read
    validation: DataSummary | None
    recommendation: Recommendation  # the --json contract: approach, fine_tune_path, rationale
    decision: DecisionRecord  # the full decision: notes, collect, the facts it was made from
    plan: Plan
    approval: Approval | None
    decision_note: str | None  # why the last approval answer was refused
    executed: Annotated[dict[str, StepResult], merge]
    report: Report
    status: Status


class Finding(Protocol):
    """One answer an interviewer read (agent.interviewer's Finding has it); a reader may add `confidence` (0..1)."""

    @property
    def fact(self) -> str:
        """Which fact, e.g. 'examples'."""
        ...

    @property
    def value(self) -> Any:
        """The fact's value as read."""
        ...

    @property
    def evidence(self) -> str:
        """The words it was read from."""
        ...

    @property
    def how(self) -> str:
        """How it was read: "stated" (a rule matched what was said) or "inferred" (similarity, or derived)."""
        ...


class Interviewer(Protocol):
    """What the graph needs of the run's interviewer (agent.interviewer's offline and LLM readers have it)."""

    @property
    def name(self) -> str:
        """Who reads: "offline" or "llm:MODEL" (said to the person, stored in the session)."""
        ...

    def extract(self, text: str, *, focus: str | None = None) -> Sequence[Finding]:
        """Read the facts `text` states; `focus` names the fact a question asked for (read more leniently)."""
        ...

    def caveat(self, text: str) -> str | None:
        """Say why this reader's reading of the goal `text` needs checking (a language it does not read); None if
        nothing does.
        """
        ...


class Node(Protocol):
    """A graph node that reads the run context: (state, runtime) -> the state update. A Protocol rather than a
    Callable type, so `runtime` may be passed by name, as LangGraph passes it.
    """

    def __call__(self, state: AgentState, runtime: Runtime[Context]) -> dict:
        """Run the node; return only the state keys it changes."""
        ...


@dataclass
class Context:
    """Per-run objects with side effects; LangGraph passes them to nodes and does not persist them."""

    interviewer: Interviewer | None = None
    # Reads the replies once the data must stay in-house and `interviewer` is a hosted LLM (graphs.interview
    # .reader_for); the CLI puts the offline reader here.
    local_reader: Interviewer | None = None
    # The goal's reading started before the graph ran (agent.interviewer.early.GoalReading): .goal, .quick (rules
    # only, ready), .result() (the full reading; may wait for the embedder), .read_quickly(text, focus=).
    reading: Any = None
    runners: dict[str, Callable[..., StepResult]] | None = None  # step name -> runner; None: graphs.steps.RUNNERS
    approved_by: str = "cli"
    # Read once, by whoever builds the run (the CLI, the demo, Studio), so no node reads the environment itself.
    settings: Settings = field(default_factory=get_settings)
    policy: EndpointPolicy = field(default_factory=EndpointPolicy.from_env)  # where an endpoint sends data
    # spec ("local", "openai:MODEL") -> embedder; None: tools.rag.embedders.get_embedder, loaded once per process.
    embedder: Callable[[str], Any] | None = None
    # The machine the steps run on (GPUs, CPU cores): the plan says what it means before approval, and a step that
    # needs a GPU this machine lacks stops before it starts.
    machine: Machine = field(default_factory=probe)
    # Step 1 measured (`plan --measure-prompt`): runs tools/measure/prompt.run with the clients the caller built;
    # None where nobody may spend on a measurement (the graph then reads step 1 from words).
    measure: Callable[..., Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def context_of(runtime: Runtime[Context] | None) -> Context:
    """Return the run's context, or the defaults (settings and policy from the environment) when it has none."""
    return runtime.context if runtime is not None and runtime.context is not None else Context()


def embedder_of(ctx: Context, spec: str = "local") -> Any:
    """Return the embedder `spec` names, from the run's context (a test's or an application's own) or the loader."""
    if ctx.embedder is not None:
        return ctx.embedder(spec)
    from tools.rag.embedders import get_embedder

    return get_embedder(spec)
