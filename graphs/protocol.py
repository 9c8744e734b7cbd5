"""What crosses the boundary between the agent graph and its front-ends (the CLI, the demo, LangGraph Studio).

Three kinds of message, each a pydantic model with a `kind`:
- **requests**: the graph stops with an `interrupt()` holding one of `Question`, `Confirm` or `ApprovalRequest`;
- **replies**: the front-end resumes it with `Answer`, `Approve`, `Reject` or `SetBudget`;
- **step events**: an approved step reports `StepStarted`, `StepProgress`, `StepFinished` or `StepFailed` on the
  graph's custom stream.

The interrupt holds the request's JSON (`as_interrupt()`), so the session database stores plain values and Studio
shows them; `request_of` reads it back, including the `{"type": ...}` payloads that sessions saved before this
module existed still hold. The approval follows LangGraph's human-interrupt convention (`action_request`,
`config`, `description`), so Agent Inbox and Studio render it as buttons; `reply_of` reads their replies too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tools.progress import Update

Source = Literal["stated", "inferred", "asked", "assumed", "measured"]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# ---- what the interview read ------------------------------------------------------------------------------------


class FactReading(_Message):
    """One fact as the interview read it: its value, how it was read, the words, and how sure the reader is."""

    value: Any
    source: Source
    evidence: str = ""
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="0..1; None when not scored.")

    def entry(self) -> dict[str, Any]:
        """Return the state's stored form (a plain dict; `confidence` only when scored, as sessions always had it)."""
        out: dict[str, Any] = {"value": self.value, "source": self.source, "evidence": self.evidence}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


# ---- requests: the graph asks ----------------------------------------------------------------------------------


class Question(_Message):
    """One framework step (or the OpenAI-customer question) asks something it could not read from the goal."""

    kind: Literal["question"] = "question"
    step: str = Field(description="The step asking: prompt, problem, data, stability, path, openai.")
    title: str
    question: str
    why: str = Field(description="Why the answer matters, in one line.")
    retry: str | None = Field(default=None, description="Why the last reply could not be read; None on a first ask.")
    read: str | None = Field(default=None, description="What was read when the reading was unsure, said back.")


class ConfirmItem(_Message):
    """One numbered line of the confirm list: a step, what was read for it, its source, evidence and doubt."""

    n: int
    step: str
    title: str
    read: str
    source: Source
    evidence: str = ""
    doubt: str | None = None


class Confirm(_Message):
    """Before deciding: what was read, one item per step; Enter accepts, "N: what is true" corrects item N."""

    kind: Literal["confirm"] = "confirm"
    items: list[ConfirmItem]
    retry: str | None = None
    note: str | None = None  # why the readings need checking (the reader's caveat: a language it does not read)


class ActionRequest(_Message):
    """LangGraph's human-interrupt `action_request`: the action's name and its arguments."""

    action: str
    args: dict[str, Any]


class InterruptConfig(_Message):
    """LangGraph's human-interrupt `config`: which replies a reviewer may give."""

    allow_ignore: bool = True  # ignore = reject: nothing runs
    allow_respond: bool = True  # a free-text reply ("approve", "reject", "budget 80")
    allow_edit: bool = True  # edit the budget
    allow_accept: bool = True  # approve


class PlanLine(_Message):
    """One step of the plan as the approval shows it."""

    step: str
    cost_usd: float
    hours: float | None = None
    runnable: bool = True


class ApprovalRequest(_Message):
    """The costed plan, waiting for approve, reject or a new budget."""

    kind: Literal["approval"] = "approval"
    session: str | None = None
    plan_hash: str
    total_usd: float
    total_hours: float | None = None
    budget_usd: float | None = None
    within_budget: bool = True
    steps: list[PlanLine] = Field(default_factory=list)
    note: str | None = None
    data_leaves: str | None = None
    private: bool | None = None
    options: list[str] = Field(default_factory=lambda: ["approve", "reject", "budget USD"])
    # LangGraph's human-interrupt convention, for Agent Inbox and Studio (None in sessions saved before it).
    action_request: ActionRequest | None = None
    config: InterruptConfig | None = None
    description: str | None = None

    @classmethod
    def build(
        cls,
        *,
        session: str | None,
        plan_hash: str,
        total_usd: float,
        total_hours: float | None,
        budget_usd: float | None,
        steps: list[PlanLine],
        note: str | None,
        data_leaves: str | None,
        private: bool | None,
    ) -> ApprovalRequest:
        """Build the request with its human-interrupt fields filled from the plan."""
        within = budget_usd is None or total_usd <= budget_usd
        lines = [f"- **{s.step}**: ${s.cost_usd:.2f}" + ("" if s.runnable else " (cannot run yet)") for s in steps]
        budget = "no budget set" if budget_usd is None else f"budget ${budget_usd:.2f}"
        description = "\n".join(
            [
                f"Approve this plan? It costs **${total_usd:.2f}** ({budget}" + ("" if within else ", over it") + ").",
                *lines,
                *([f"Data leaves this machine: {data_leaves}"] if data_leaves else []),
                "Accept to run it, ignore to reject it, edit `budget_usd` to set a new budget, or respond in words.",
            ]
        )
        return cls(
            session=session,
            plan_hash=plan_hash,
            total_usd=total_usd,
            total_hours=total_hours,
            budget_usd=budget_usd,
            within_budget=within,
            steps=steps,
            note=note,
            data_leaves=data_leaves,
            private=private,
            action_request=ActionRequest(
                action="approve_plan", args={"plan_hash": plan_hash, "total_usd": total_usd, "budget_usd": budget_usd}
            ),
            config=InterruptConfig(),
            description=description,
        )


Request = Annotated[Union[Question, Confirm, ApprovalRequest], Field(discriminator="kind")]
_REQUEST: TypeAdapter[Question | Confirm | ApprovalRequest] = TypeAdapter(Request)


def as_interrupt(request: Question | Confirm | ApprovalRequest) -> dict[str, Any]:
    """Return what the node passes to `interrupt()`: the request's JSON (unset extras left out)."""
    return request.model_dump(mode="json", exclude_none=False)


def request_of(value: Any) -> Question | Confirm | ApprovalRequest:
    """Read an interrupt's value as its request; payloads saved before this protocol carry `type`, not `kind`."""
    if isinstance(value, (Question, Confirm, ApprovalRequest)):
        return value
    if isinstance(value, list) and len(value) == 1:  # Agent Inbox's list convention
        value = value[0]
    if isinstance(value, dict) and "kind" not in value and "type" in value:
        value = {**{k: v for k, v in value.items() if k != "type"}, "kind": value["type"]}
    return _REQUEST.validate_python(value)


# ---- replies: the front-end answers -----------------------------------------------------------------------------


class Answer(_Message):
    """A reply in words: to a question, to the confirm list ('' accepts it), or to the approval ("approve")."""

    kind: Literal["answer"] = "answer"
    text: str


class Approve(_Message):
    """Approve the plan as shown."""

    kind: Literal["approve"] = "approve"


class Reject(_Message):
    """Reject the plan: nothing runs and nothing is spent."""

    kind: Literal["reject"] = "reject"


class SetBudget(_Message):
    """Set a new budget for the pending plan."""

    kind: Literal["set_budget"] = "set_budget"
    usd: float = Field(ge=0.0)


Reply = Annotated[Union[Answer, Approve, Reject, SetBudget], Field(discriminator="kind")]
_REPLY: TypeAdapter[Answer | Approve | Reject | SetBudget] = TypeAdapter(Reply)


class HumanResponse(_Message):
    """LangGraph's human-interrupt response, as Agent Inbox sends it: accept, ignore, edit or respond."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: Any = None

    def reply(self) -> Answer | Approve | Reject | SetBudget:
        """Return the reply it means: accept approves, ignore rejects, an edit of `budget_usd` sets the budget."""
        if self.type == "accept":
            return Approve()
        if self.type == "ignore":
            return Reject()
        if self.type == "response":
            return Answer(text=str(self.args or ""))
        edited = ActionRequest.model_validate(self.args).args if isinstance(self.args, dict) else {}
        budget = edited.get("budget_usd")
        return SetBudget(usd=float(budget)) if budget not in (None, "") else Approve()


_HUMAN: TypeAdapter[HumanResponse] = TypeAdapter(HumanResponse)


def as_resume(reply: Answer | Approve | Reject | SetBudget) -> dict[str, Any]:
    """Return what `Command(resume=...)` carries: the reply's JSON."""
    return reply.model_dump(mode="json")


def reply_of(value: Any) -> Answer | Approve | Reject | SetBudget:
    """Read a resume value as a reply. Besides this module's JSON it takes plain text (Studio's resume box), the
    replies sessions saved before it ({"budget": x}, {"decision": ...}, {"answer": ...}), and LangGraph's
    human-interrupt responses (accept, ignore, edit of `budget_usd`, response) from Agent Inbox.
    """
    if isinstance(value, (Answer, Approve, Reject, SetBudget)):
        return value
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        if "kind" in value:
            return _REPLY.validate_python(value)
        if "type" in value and set(value) <= {"type", "args"}:  # Agent Inbox's response
            try:
                return _HUMAN.validate_python(value).reply()
            except ValidationError:  # an unknown response type: words the node says it could not read
                return Answer(text=str(value))
        if value.get("budget") is not None:
            return SetBudget(usd=float(value["budget"]))
        return Answer(text=str(value.get("decision", value.get("answer", ""))))
    return Answer(text="" if value is None else str(value))


# ---- step events: an approved step reports -----------------------------------------------------------------------


class StepStarted(_Message):
    """A step began (or picked up where a killed run left it)."""

    kind: Literal["started"] = "started"
    step: str
    resuming: bool = False


class StepProgress(_Message):
    """A step's tool reported how far it is."""

    kind: Literal["progress"] = "progress"
    step: str
    update: Update


class StepFinished(_Message):
    """A step ended with its result's status ("done", "skipped", "succeeded" ...), how long it took and its key
    result in one line (graphs.outcome.key_result: "20/20 steps, loss 6.91 → 5.12, adapter at PATH").
    """

    kind: Literal["finished"] = "finished"
    step: str
    status: str
    message: str | None = None
    seconds: float | None = None
    summary: str | None = None


class StepFailed(_Message):
    """A step raised: the error as the person sees it."""

    kind: Literal["failed"] = "failed"
    step: str
    error: str
    hint: str | None = None


StepEvent = Annotated[Union[StepStarted, StepProgress, StepFinished, StepFailed], Field(discriminator="kind")]
_EVENT: TypeAdapter[StepStarted | StepProgress | StepFinished | StepFailed] = TypeAdapter(StepEvent)


def event_of(value: Any) -> StepStarted | StepProgress | StepFinished | StepFailed | None:
    """Read a custom-stream chunk as a step event; None for anything else on the stream."""
    if isinstance(value, (StepStarted, StepProgress, StepFinished, StepFailed)):
        return value
    if not isinstance(value, dict) or "kind" not in value:
        return None
    return _EVENT.validate_python(value)
