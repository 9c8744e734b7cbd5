"""The LLM interviewer: any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, LM Studio) reads the answers,
with structured outputs, and may call the read-only tools (validate, estimate, search) to settle a fact.

The client is built by tools.clients from OPENAI_API_KEY / OPENAI_BASE_URL and lives only in this object, which
the graph receives as run context: it never reaches the session database.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.interviewer.offline import Finding
from prompts import render
from tools.decision import COUNTS as _COUNTS
from tools.decision import READS, choices
from tools.errors import TunewiseError

MAX_TOOL_ROUNDS = 4  # a tool call or two settles a fact; more means the model is looping
# What the LLM may report, from the one vocabulary (tools.decision: `Facts`' fields and the cues).
FACTS = tuple(READS)
COUNTS = _COUNTS


def fact_lines() -> str:
    """Return the system prompt's list of facts and their values, one line each, from the vocabulary."""
    return "\n".join(f"- {fact}: {reads}" for fact, reads in READS.items())


class Said(BaseModel):  # noqa: D101 - a docstring would become its JSON-schema description, sent to the LLM
    model_config = ConfigDict(extra="forbid")
    fact: Literal[FACTS] = Field(description="Which fact the text settles.")  # type: ignore[valid-type]
    value: str = Field(description="The value, as the system prompt lists it.")
    evidence: str = Field(description="The sentence of the text it came from, copied exactly.")


class Extraction(BaseModel):
    """The facts the text states or clearly implies; leave out what it does not say."""

    model_config = ConfigDict(extra="forbid")
    facts: list[Said]


def _validate(inp: dict[str, Any]) -> Any:
    """Check a training file: its format, errors, token counts and training cost; reads the file, spends nothing."""
    from tools.dataset.validate import ValidateInput, run

    result = run(ValidateInput.model_validate(inp))
    return result.model_dump(
        mode="json",
        include={
            "path",
            "format",
            "examples",
            "valid_examples",
            "tokens",
            "estimated_training_cost_usd",
            "error_counts",
            "warning_counts",
        },
    )


def _estimate(inp: dict[str, Any]) -> Any:
    """Price every path (prompting, RAG, OpenAI and local fine-tuning) for a dataset; a calculation, spends nothing."""
    from tools.costs.estimate import EstimateInput, run

    return run(EstimateInput.model_validate(inp)).model_dump(mode="json", include={"dataset", "options", "notes"})


def _search(inp: dict[str, Any]) -> Any:
    """Search an indexed document collection for passages that answer a question; reads only."""
    from tools.clients import get_chroma_client
    from tools.rag.collection import collection_embedder
    from tools.rag.embedders import get_embedder
    from tools.rag.search import SearchInput, run

    query = SearchInput.model_validate(inp)
    client = get_chroma_client()
    built_by = collection_embedder(client, query.collection) or "local"
    spec = "local" if built_by.startswith("local") else built_by  # query with the embedder that built it
    return [hit.model_dump(mode="json") for hit in run(query, client=client, embedder=get_embedder(spec))]


def _input_models() -> dict[str, type[BaseModel]]:
    from tools.costs.estimate import EstimateInput
    from tools.dataset.validate import ValidateInput
    from tools.rag.search import SearchInput

    return {"validate": ValidateInput, "estimate": EstimateInput, "search": SearchInput}


# The only tools the LLM is handed; none of them spends money or GPU time.
TOOLS: dict[str, Callable[[dict], Any]] = {"validate": _validate, "estimate": _estimate, "search": _search}


class LLMInterviewer:
    """Reads answers with a chat model; `client` is an `openai.OpenAI` from tools.clients."""

    def __init__(self, model: str, client: Any) -> None:
        self.model = model
        self.name = f"llm:{model}"
        self._client = client
        # Where the answers go: graphs.interview.reader_for keeps private answers from a hosted endpoint.
        self.endpoint = str(getattr(client, "base_url", "") or "") or None
        self.tool_calls: list[str] = []  # names only, for the transcript: arguments may hold paths, never keys

    def caveat(self, text: str) -> str | None:
        """Return None: a chat model reads the languages people write in."""
        return None

    def extract(self, text: str, *, focus: str | None = None) -> list[Finding]:
        """Return the facts the model reads in `text` (`focus`: the fact just asked about), letting it call the
        read-only TOOLS for up to MAX_TOOL_ROUNDS rounds; endpoint errors and unreadable replies raise
        TunewiseError.
        """
        import openai

        focus_text = ""
        if focus:
            from graphs.interview import question

            focus_text = render("interviewer_focus", question=question(focus)[0], fact=focus)
        messages: list[dict] = [
            {"role": "system", "content": render("interviewer_system", facts=fact_lines())},
            {"role": "user", "content": render("interviewer_user", focus=focus_text, text=text)},
        ]
        models = _input_models()
        tools = [
            openai.pydantic_function_tool(models[name], name=name, description=(fn.__doc__ or "").strip())
            for name, fn in TOOLS.items()
        ]
        for _ in range(MAX_TOOL_ROUNDS + 1):
            try:
                response = self._client.chat.completions.parse(
                    model=self.model, messages=messages, tools=tools, response_format=Extraction
                )
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                raise _message(exc, self._client, self.model) from exc
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError, ValidationError):
                raise TunewiseError(
                    "the LLM's answer was not the structured reply asked for",
                    hint="use a model that supports structured outputs, or --llm offline",
                ) from None
            message = response.choices[0].message
            if not message.tool_calls:
                if message.parsed is None:
                    raise TunewiseError(
                        "the LLM returned no readable answer",
                        hint=f"refusal: {message.refusal}" if message.refusal else "use --llm offline",
                    )
                return self._findings(message.parsed, text, focus)
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.function.name, "arguments": c.function.arguments},
                        }
                        for c in message.tool_calls
                    ],
                }
            )
            for call in message.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": self._run_tool(call)})
        raise TunewiseError(f"the LLM kept calling tools for {MAX_TOOL_ROUNDS} rounds", hint="use --llm offline")

    def _run_tool(self, call: Any) -> str:
        name = call.function.name
        self.tool_calls.append(name)
        if name not in TOOLS:  # the model may only ask for the read-only tools it was given
            return json.dumps({"error": f"no tool named {name!r}; available: {', '.join(TOOLS)}"})
        try:
            return json.dumps(TOOLS[name](json.loads(call.function.arguments or "{}")), default=str)
        except TunewiseError as exc:
            return json.dumps({"error": str(exc)})
        except (ValidationError, json.JSONDecodeError) as exc:
            return json.dumps({"error": f"bad arguments: {exc}"})

    @staticmethod
    def _findings(parsed: Extraction, text: str, focus: str | None = None) -> list[Finding]:
        out = []
        for said in parsed.facts:
            value = _coerce(said.fact, said.value)
            if value is None:
                continue  # an out-of-range value is dropped rather than trusted
            quoted = bool(said.evidence.strip()) and said.evidence.strip() in text
            evidence = said.evidence.strip() if quoted else text.strip()
            # "stated" means a clause of the text says it: a reading the model cannot quote is its inference.
            out.append(Finding(said.fact, value, evidence, "stated" if quoted else "inferred"))
        if focus not in (None, "prompting"):
            return out
        # A reached score and a needed one are compared as the offline reader compares them: an LLM too reads
        # "82% against a 97% target" as "about 80% of the way" (the rule of thumb applied to the wrong number).
        from agent.interviewer.offline import measured_by_words

        return list(measured_by_words(text, {f.fact: f for f in out}).values())


def _coerce(fact: str, raw: str) -> Any:
    raw = raw.strip().lower()
    words = choices(fact)
    if words is not None:
        return raw if raw in words else None
    if fact in COUNTS:
        digits = raw.replace(",", "").replace("_", "")
        return int(digits) if digits.isdigit() else None
    return {"true": True, "false": False, "yes": True, "no": False}.get(raw)


def _message(exc: BaseException, client: Any, model: str) -> TunewiseError:
    """Say in one line, without the key, what the LLM endpoint answered (tools/openai_errors.py words it)."""
    from tools.openai_errors import openai_error

    return openai_error(
        exc,
        f"reading the answer with {model}",
        client=client,
        who="the LLM endpoint",
        not_found="check TUNEWISE_LLM_MODEL",
        also="or use --llm offline",
    )


def configured(model: str | None) -> bool:
    """Tell whether an LLM is configured: a model is named and an endpoint or key (OPENAI_BASE_URL or
    OPENAI_API_KEY) is present.
    """
    import os

    return bool(model) and bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def build(model: str) -> LLMInterviewer:
    """Build the LLM interviewer for `model` on the OpenAI client of tools.clients (1 retry, 60 s timeout)."""
    from tools.clients import get_openai_client

    return LLMInterviewer(model, get_openai_client(max_retries=1, timeout=60.0))
