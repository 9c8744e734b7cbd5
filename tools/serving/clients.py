"""What the server and `tunewise eval` need from the clients they are handed: a `Generator` that answers
conversations, a `Retriever` that finds passages, and a `Loader` that turns a model spec into a generator.

These are Protocols: `tools.models.generation`'s HFGenerator and OpenAIGenerator and `tools.rag.search.Retriever`
fit them without naming them, and so does any test double with the same methods. A generator whose prompts are
rendered and counted on this machine (a local model: chat template, tokenizer, config) is also a `LocalGenerator`;
passages and few-shot turns are fitted into its window, while an upstream endpoint checks its own context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Generator as _Generator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tools.models.generation import Generation
    from tools.models.spec import ModelSpec
    from tools.rag.search import SearchHit

Pieces = _Generator[str, None, None]  # a reply's text deltas; closing it early stops the model at its next token


class Generator(Protocol):
    """Answers chat conversations (lists of {"role", "content"} dicts), in a batch or as a stream of deltas."""

    def generate(
        self, conversations: list[list[dict]], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> list[Generation]:
        """Reply to each conversation, in the input order."""
        ...

    def stream(
        self,
        conversation: list[dict],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        usage: dict | None = None,
    ) -> Pieces:
        """Yield the reply's text deltas; `usage`, when given, is filled with the token counts at the end."""
        ...


class Tokenizer(Protocol):
    """The part of a transformers tokenizer used to count tokens."""

    def __call__(self, text: str, *, add_special_tokens: bool = True) -> Mapping[str, Sequence[int]]:
        """Encode `text`; "input_ids" holds its tokens."""
        ...


class Configured(Protocol):
    """A transformers model: its config says how long its window is."""

    @property
    def config(self) -> object:
        """The model's config (max_position_embeddings, or a text_config that has it)."""
        ...


@runtime_checkable
class LocalGenerator(Generator, Protocol):
    """A generator whose prompts are rendered and counted here: it has a chat template, a tokenizer and a config."""

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer prompts are counted with."""
        ...

    @property
    def model(self) -> Configured:
        """The loaded model, for its config."""
        ...

    def render(self, conversation: list[dict]) -> str:
        """Render the prompt text of `conversation`; a TunewiseError when the chat template rejects it."""
        ...


def local(generator: Generator) -> LocalGenerator | None:
    """Return `generator` as a LocalGenerator when its prompts can be rendered and counted here, else None."""
    return generator if isinstance(generator, LocalGenerator) else None


class Retriever(Protocol):
    """Finds the passages for a question in an opened collection."""

    @property
    def notes(self) -> list[str]:
        """One-line facts for the caller to show, e.g. a lexical index built on first open or a fallback."""
        ...

    def search(self, query: str, k: int = 4) -> list[SearchHit]:
        """Return the `k` best passages for `query`, best first."""
        ...


Loader = Callable[["ModelSpec"], Generator]  # builds the generator a model spec names (tools.builders.generator_loader)
