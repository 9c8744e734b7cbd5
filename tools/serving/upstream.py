"""Generation on an OpenAI-compatible server that someone else runs (vLLM, SGLang, llama.cpp's server, Ollama), with
tunewise's front kept in front of it: retrieval, the context budget and the sources stay here.

`check_served` asks the upstream which models it serves before anything is served: a deployment whose name it does
not serve is one line at start-up, not a 404 on the first request. vLLM also reports each model's context length
(`max_model_len`; null on a LoRA adapter's entry, whose base entry has it). `Counted` then gives the upstream's
generator the deployment's own tokenizer and chat template, so passages are fitted into the window the upstream
reports, as they are for a model loaded here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    from tools.models.generation import Generation
    from tools.serving.clients import Generator, Pieces, Tokenizer


def check_served(client: Any, name: str, url: str) -> int | None:
    """Return the context length the upstream at `url` reports for `name` (None when it reports none); raise a
    one-line UsageError when it does not serve `name` or cannot be reached.
    """
    import openai

    try:
        models = list(client.models.list())
    except openai.APIError as exc:
        raise UsageError(
            f"the upstream at {url} did not answer its model list ({type(exc).__name__})",
            hint="check --upstream (it ends in /v1) and that the server is up",
        ) from None
    ids = [m.id for m in models]
    entry = next((m for m in models if m.id == name), None)
    if entry is None:
        raise UsageError(
            f"the upstream at {url} does not serve '{name}' (it serves: {', '.join(ids) or 'nothing'})",
            hint=f"start it with the deployment's vllm.sh (the model or adapter is served as '{name}')",
        )
    length = _length(entry)
    if length is None:  # a LoRA adapter's entry: its base (`parent`, else `root`) carries the length
        parent = getattr(entry, "parent", None) or getattr(entry, "root", None)
        length = next((_length(m) for m in models if m.id == parent), None)
    return length


def _length(entry: Any) -> int | None:
    for field in ("max_model_len", "context_length", "max_context_length"):
        value = getattr(entry, field, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class Counted:
    """An upstream generator with the deployment's tokenizer and chat template: prompts are rendered and counted
    here against the upstream's window (a `clients.LocalGenerator`), and generated there.
    """

    def __init__(self, upstream: Generator, tokenizer: Any, template: str, window: int) -> None:
        self.upstream = upstream
        self._tokenizer = tokenizer
        self.template = template
        self._model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=window))

    @property
    def tokenizer(self) -> Tokenizer:
        """The deployment's tokenizer, which counts prompts."""
        return self._tokenizer

    @property
    def model(self) -> SimpleNamespace:
        """A stand-in whose config holds the upstream's window."""
        return self._model

    def render(self, conversation: list[dict]) -> str:
        """Render the prompt as the upstream will (the same chat template), to count it."""
        try:
            text = self._tokenizer.apply_chat_template(
                conversation, chat_template=self.template, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # a template that rejects the conversation (roles out of order ...)
            raise TunewiseError(f"the chat template rejected the messages ({exc})") from None
        return str(text)

    def generate(
        self, conversations: list[list[dict]], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> list[Generation]:
        """Generate upstream."""
        return self.upstream.generate(conversations, max_new_tokens=max_new_tokens, temperature=temperature)

    def stream(
        self,
        conversation: list[dict],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        usage: dict | None = None,
    ) -> Pieces:
        """Stream upstream."""
        return self.upstream.stream(conversation, max_new_tokens=max_new_tokens, temperature=temperature, usage=usage)
