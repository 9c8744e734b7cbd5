"""One loaded deployment answering one request: retrieve for the latest user turn, add the context, generate, time it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from tools.errors import TunewiseError
from tools.rag.search import SearchHit
from tools.serving import budget, clients
from tools.serving.context import latest_question, with_context
from tools.serving.protocol import ApiError, ChatRequest

if TYPE_CHECKING:
    from tools.deploy.deploy import Deployment


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


@dataclass
class Turn:
    """A request on its way through the engine; `fields` become the request's log line."""

    request: ChatRequest
    max_tokens: int
    stops: list[str]
    hits: list[SearchHit] = field(default_factory=list)  # after fitting: only the passages the model is given
    dropped: int = 0  # passages retrieved but left out because they did not fit the model's window
    messages: list[dict] = field(default_factory=list)
    conversation: list[dict] = field(default_factory=list)
    question: str = ""
    prompt_tokens: int | None = None
    retrieval_ms: float = 0.0
    generation_ms: float = 0.0
    generation_started: float = 0.0

    def extension(self) -> dict:
        """Return the response's `tunewise` field: which passages were used, and where the time went."""
        return {
            "sources": [{"id": h.id, "source": h.source, "chunk": h.chunk, "score": h.score} for h in self.hits],
            "dropped_sources": self.dropped,
            "retrieval_ms": self.retrieval_ms,
            "generation_ms": self.generation_ms,
        }


class Engine:
    """The deployment's retriever and generator; `upstream` says whether generation happens elsewhere."""

    def __init__(
        self,
        deployment: Deployment,
        generator: clients.Generator,
        retriever: clients.Retriever,
        *,
        upstream: bool,
    ) -> None:
        self.deployment = deployment
        self.generator = generator
        self.retriever = retriever
        self.upstream = upstream
        # A local model's prompts are counted here, against the window its config gives; so are an upstream's when
        # its generator carries the deployment's tokenizer and the window the upstream reported (serving/upstream.py).
        # Other upstream endpoints check their own context.
        self.local = clients.local(generator)
        self.window = budget.context_window(self.local.model.config, self.local.tokenizer) if self.local else None
        # Tokenizers refuse concurrent use from threads ("Already borrowed"): one embedding at a time.
        self._retrieval_lock = threading.Lock()

    def warm_up(self) -> None:
        """Run one request's path now (embedder, index, template, model kernels), so the first client does not wait."""
        request = ChatRequest(model=self.deployment.name, messages=[{"role": "user", "content": "warm up"}])
        turn = Turn(request=request, max_tokens=1, stops=[])
        self.retrieve(turn)
        if not self.upstream:  # an upstream call would cost money; a local one-token reply costs milliseconds
            self.generate(turn)

    def retrieve(self, turn: Turn) -> None:
        """Find the passages for the latest user turn and build the conversation the model will see."""
        messages = [m.model_dump(exclude_none=True) for m in turn.request.messages]
        found = latest_question(messages)
        if found is None or not found[1].strip():
            raise ApiError(400, "the messages need a user message with text to answer", param="messages")
        turn.question = found[1]
        started = time.perf_counter()
        try:
            with self._retrieval_lock:
                turn.hits = self.retriever.search(found[1], k=self.deployment.retrieval.k)
        except TunewiseError as exc:
            raise ApiError(503, f"retrieval failed: {exc}", type="server_error", code="retrieval_unavailable") from None
        turn.retrieval_ms = _ms(started)
        turn.messages = messages
        turn.conversation = with_context(messages, turn.hits, self.deployment.system_prompt)

    def _count(self) -> budget.Count | None:
        local = self.local
        if local is None:
            return None

        def count(conversation: list[dict]) -> int:
            try:
                prompt = local.render(conversation)
            except TunewiseError as exc:
                raise ApiError(400, str(exc), param="messages") from None
            return len(local.tokenizer(prompt, add_special_tokens=False)["input_ids"])

        return count

    def check_length(self, turn: Turn) -> None:
        """Fit the passages into the local model's window, lowest rank out first; refuse a conversation that does not
        fit even without them (as OpenAI does). Runs under the model's slot: the tokenizer is not thread-safe.
        """
        count = self._count()
        if count is None:
            return  # an upstream endpoint checks its own context
        asked = turn.request.max_completion_tokens or turn.request.max_tokens
        reserve = min(turn.max_tokens, budget.answer_reserve(self.window, asked, turn.max_tokens))
        system = self.deployment.system_prompt
        fitted = budget.fit(
            lambda hits: with_context(turn.messages, hits, system),
            turn.hits,
            count=count,
            window=self.window,
            reserve=reserve,
        )
        turn.hits, turn.dropped, turn.conversation = fitted.used, fitted.dropped, fitted.conversation
        turn.prompt_tokens = fitted.prompt_tokens if fitted.prompt_tokens is not None else count(turn.conversation)
        limit = self.window
        if limit is not None and turn.prompt_tokens + reserve > limit:
            raise ApiError(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{turn.prompt_tokens + reserve} tokens ({turn.prompt_tokens} in the messages, "
                f"{reserve} in the completion). Please reduce the length of the messages or "
                "completion.",
                param="messages",
                code="context_length_exceeded",
            )
        if limit is not None and asked is None:  # no max_tokens given: the answer may use what the prompt left
            turn.max_tokens = min(turn.max_tokens, limit - turn.prompt_tokens)

    def _failed(self, exc: BaseException) -> ApiError:
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, TunewiseError) and self.upstream:
            return ApiError(502, f"the upstream model failed: {exc}", type="server_error", code="upstream_error")
        return ApiError(500, f"generation failed ({type(exc).__name__})", type="server_error", code="generation_failed")

    def generate(self, turn: Turn) -> tuple[str, str, dict]:
        """Generate a non-streaming reply; return (text, finish_reason, usage)."""
        self.check_length(turn)
        started = time.perf_counter()
        try:
            out = self.generator.generate(
                [turn.conversation], max_new_tokens=turn.max_tokens, temperature=turn.request.temperature
            )[0]
        except Exception as exc:  # one ApiError (its type named in the 500), the failure kept as its cause
            raise self._failed(exc) from exc
        turn.generation_ms = _ms(started)
        text, finish = out.text, out.finish_reason
        cuts = [text.index(s) for s in turn.stops if s in text]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        prompt = out.prompt_tokens or turn.prompt_tokens or 0
        return (
            text,
            finish,
            {
                "prompt_tokens": prompt,
                "completion_tokens": out.completion_tokens,
                "total_tokens": prompt + out.completion_tokens,
            },
        )

    def start_stream(self, turn: Turn, usage: dict) -> tuple[clients.Pieces, str | None]:
        """Start generating and wait for the first piece, so a failure to start is still an HTTP error."""
        self.check_length(turn)
        turn.generation_started = time.perf_counter()
        pieces = self.generator.stream(
            turn.conversation, max_new_tokens=turn.max_tokens, temperature=turn.request.temperature, usage=usage
        )
        try:
            return pieces, next(pieces, None)
        except Exception as exc:  # as in generate: one ApiError, the failure kept as its cause
            pieces.close()
            raise self._failed(exc) from exc

    def next_piece(self, pieces: Iterator[str]) -> str | None:
        """Return the stream's next piece, None at its end; a generator failure becomes an ApiError."""
        try:
            return next(pieces, None)
        except Exception as exc:  # one ApiError (its type named in the 500), the failure kept as its cause
            raise self._failed(exc) from exc

    def finish_stream(self, turn: Turn, usage: dict, text: str) -> dict:
        """Return the usage for a finished stream, counted from the text when the stream was cut before it could report."""
        turn.generation_ms = _ms(turn.generation_started)
        completion = usage.get("completion_tokens")
        if completion is None:  # an upstream endpoint reports its count; a local model's is counted here
            local = self.local
            completion = len(local.tokenizer(text, add_special_tokens=False)["input_ids"]) if local else 0
        prompt = usage.get("prompt_tokens") or turn.prompt_tokens or 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
