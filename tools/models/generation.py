"""Text generation behind one interface: a local transformers model (+ LoRA adapter) or an OpenAI-compatible endpoint.

Both generators take chat conversations (lists of {"role", "content"} dicts) and return `Generation`s; `stream`
yields text deltas. `tunewise eval` batches through `generate`; `tunewise serve` shares one generator between
request threads, so the local one serialises calls with a lock (one model, one forward pass at a time).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generator, Iterator, Literal, overload

from pydantic import BaseModel, ConfigDict

from tools.errors import TunewiseError
from tools.models.spec import ModelSpec, adapter_dir, base_model

if TYPE_CHECKING:
    from openai import Stream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from transformers import BatchEncoding, GenerationConfig


class Generation(BaseModel):
    """One reply: its text, token counts and why it stopped ("stop" or "length")."""

    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


def _clean(conversation: list[dict]) -> list[dict[str, str]]:
    # Dataset messages may carry a training `weight`; templates and APIs want role and content only.
    return [{"role": m["role"], "content": m.get("content") or ""} for m in conversation]


def _cut(text: str, stop: str | None) -> tuple[str, bool]:
    if stop and stop in text:
        return text[: text.index(stop)], True
    return text, False


class HFGenerator:
    """A transformers causal LM, with its LoRA adapter merged in, loaded once; greedy, batched, left-padded."""

    def __init__(self, spec: ModelSpec, *, device: str | None = None, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        from tools.train.data import end_of_turn, named_template

        self.name = str(spec)
        self.batch_size = batch_size  # prompts per forward pass; left padding keeps every row's reply aligned
        self._lock = threading.Lock()
        base, adapter = base_model(spec), adapter_dir(spec)
        # The adapter's run saved the tokenizer and the chat template it was trained with: prompts must match them.
        tok_source = adapter if adapter is not None and (adapter / "tokenizer_config.json").is_file() else base
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float32
        if self.device.startswith("cuda"):  # bf16 only where the GPU computes it natively (device.precision)
            from tools.train import device as devices

            dtype = getattr(torch, devices.inference_dtype(devices.detect()))
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a weight-loading bar would break into the CLI's own progress display
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(tok_source))
            model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, device_map=self.device)
        except (OSError, ValueError) as exc:
            raise TunewiseError(
                f"cannot load the model {base} ({str(exc).splitlines()[0]})",
                hint="give a local model folder, or a hub name already in the cache",
            ) from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
            # Merged once at load, so generation runs at the base model's speed; a 4-bit base keeps the adapter
            # beside it, since merging into quantized weights would round the update away.
            if getattr(model.base_model.model, "hf_quantizer", None) is None:
                model = model.merge_and_unload()
        self.model = model.eval()
        self.template = self.tokenizer.chat_template or named_template("plain")
        eot = end_of_turn(self.tokenizer, self.template)
        gen_source = adapter if adapter is not None and (adapter / "generation_config.json").is_file() else None
        self.generation_config = (
            GenerationConfig.from_pretrained(str(gen_source))
            if gen_source
            else GenerationConfig.from_dict(model.generation_config.to_dict())
        )
        eos = self.generation_config.eos_token_id
        stops = list(eos) if isinstance(eos, (list, tuple)) else [eos]
        stops += [self.tokenizer.eos_token_id, eot.token_id if eot else None]
        self.stop_ids = [i for i in dict.fromkeys(stops) if i is not None]
        # An end of turn spelled in several tokens cannot stop generate() by id: cut the text at it instead.
        self.stop_text = eot.text if eot is not None and eot.token_id is None else None
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"

    def render(self, conversation: list[dict]) -> str:
        """Render the prompt text: the conversation in the chat template, ending with the assistant's generation prompt.

        Raises TunewiseError when the template rejects the conversation (e.g. one that forbids a system message).
        """
        try:
            return self.tokenizer.apply_chat_template(
                _clean(conversation), chat_template=self.template, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # jinja's raise_exception, e.g. a template that forbids a system message
            raise TunewiseError(
                f"{self.name}: the chat template rejects this conversation ({exc})",
                hint="drop the system prompt or use a model whose template accepts it",
            ) from exc

    def _config(self, max_new_tokens: int, temperature: float) -> GenerationConfig:
        from transformers import GenerationConfig

        config = GenerationConfig.from_dict(self.generation_config.to_dict())
        sample = temperature > 0
        config.update(
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature if sample else 1.0,
            top_p=None if not sample else config.top_p,
            top_k=None if not sample else config.top_k,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            num_beams=1,
        )
        return config

    def _encode(self, prompts: list[str]) -> BatchEncoding:
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    def generate(
        self, conversations: list[list[dict]], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> list[Generation]:
        """Reply to each conversation; prompts of similar length share a batch, results keep the input order."""
        import torch

        prompts = [self.render(c) for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[Generation | None] = [None] * len(prompts)
        config = self._config(max_new_tokens, temperature)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self._encode([prompts[i] for i in idx])
                ids = self.model.generate(**enc, generation_config=config)
                width = enc["input_ids"].shape[1]
                for row, i in enumerate(idx):
                    out[i] = self._result(ids[row, width:].tolist(), int(enc["attention_mask"][row].sum()))
        return out  # type: ignore[return-value]

    def _result(self, new: list[int], prompt_tokens: int) -> Generation:
        stopped = next((k for k, t in enumerate(new) if t in self.stop_ids), None)
        kept = new if stopped is None else new[:stopped]
        text, cut = _cut(self.tokenizer.decode(kept, skip_special_tokens=True), self.stop_text)
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new if stopped is None else new[: stopped + 1]),
            finish_reason="stop" if stopped is not None or cut else "length",
        )

    def stream(
        self,
        conversation: list[dict],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        usage: dict | None = None,
    ) -> Generator[str, None, None]:
        """Yield text deltas as they are generated; closing the iterator early stops the model at its next token.

        `usage`, when given, is filled with prompt_tokens, completion_tokens and finish_reason at the end.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        enc = self._encode([self.render(conversation)])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                with torch.inference_mode():
                    box["ids"] = self.model.generate(
                        **enc,
                        generation_config=self._config(max_new_tokens, temperature),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    )
            except BaseException as exc:  # re-raised in the caller's thread, which would otherwise wait forever
                box["error"] = exc
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            try:
                yield from self._stop_filtered(streamer, cancel)
            finally:
                cancel.set()
                thread.join()
        if "error" in box:
            raise box["error"]
        if usage is not None:
            width = enc["input_ids"].shape[1]
            done = self._result(box["ids"][0, width:].tolist(), width)
            usage.update(
                prompt_tokens=done.prompt_tokens,
                completion_tokens=done.completion_tokens,
                finish_reason=done.finish_reason,
            )

    def _stop_filtered(self, pieces: Iterator[str], cancel: threading.Event) -> Iterator[str]:
        if not self.stop_text:
            yield from (p for p in pieces if p)
            return
        held = ""  # a tail that may be the start of the stop text is held back until it cannot be
        for piece in pieces:
            held += piece
            if self.stop_text in held:
                head = held[: held.index(self.stop_text)]
                if head:
                    yield head
                cancel.set()
                return
            keep = max((k for k in range(1, len(self.stop_text)) if held.endswith(self.stop_text[:k])), default=0)
            if len(held) > keep:
                yield held[: len(held) - keep]
                held = held[len(held) - keep :]
        if held:
            yield held


class OpenAIGenerator:
    """Chat completions from any OpenAI-compatible endpoint; a few requests in flight at once."""

    def __init__(self, spec: ModelSpec, *, client: Any, max_workers: int = 4) -> None:
        self.name = str(spec)
        self.model = spec.model or ""
        self.max_workers = max_workers  # parallel requests: endpoints batch on their side, and rate limits stay far
        self.client = client  # built by the caller (tools.clients.get_openai_client): never from here
        self._token_field = "max_tokens"  # what vLLM, Ollama and older servers read; switched on OpenAI's request

    def _error(self, exc: Exception) -> TunewiseError:
        from tools.openai_errors import openai_error

        return openai_error(
            exc,
            f"generating with {self.name}",
            client=self.client,
            not_found=f"check the model name '{self.model}' and the endpoint (OPENAI_BASE_URL or the inline @URL)",
        )

    @overload
    def _create(
        self, conversation: list[dict], max_new_tokens: int, temperature: float, stream: Literal[False] = False
    ) -> ChatCompletion: ...

    @overload
    def _create(
        self, conversation: list[dict], max_new_tokens: int, temperature: float, stream: Literal[True]
    ) -> Stream[ChatCompletionChunk]: ...

    def _create(
        self, conversation: list[dict], max_new_tokens: int, temperature: float, stream: bool = False
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        import openai

        for _ in range(2):
            field = self._token_field
            try:
                return self.client.chat.completions.create(
                    model=self.model,
                    messages=_clean(conversation),
                    temperature=temperature,
                    stream=stream,
                    **{field: max_new_tokens},
                )
            except openai.BadRequestError as exc:
                if field == "max_tokens" and "max_completion_tokens" in str(exc):
                    self._token_field = "max_completion_tokens"  # reasoning models refuse max_tokens
                    continue
                raise self._error(exc) from exc
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
        raise AssertionError("unreachable")

    def _one(self, conversation: list[dict], max_new_tokens: int, temperature: float) -> Generation:
        resp = self._create(conversation, max_new_tokens, temperature)
        choice = resp.choices[0]
        usage = resp.usage
        return Generation(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    def generate(
        self, conversations: list[list[dict]], *, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> list[Generation]:
        """Reply to each conversation, in the input order."""
        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            return list(pool.map(lambda c: self._one(c, max_new_tokens, temperature), conversations))

    def stream(
        self,
        conversation: list[dict],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        usage: dict | None = None,
    ) -> Generator[str, None, None]:
        """Yield the reply's text deltas as the endpoint sends them."""
        import openai

        chunks = self._create(conversation, max_new_tokens, temperature, stream=True)
        finish, count = "stop", 0
        try:
            for chunk in chunks:
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    if choice.delta and choice.delta.content:
                        count += 1
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        finally:
            chunks.close()
        if usage is not None:
            usage.update(prompt_tokens=0, completion_tokens=count, finish_reason=finish)


def load_generator(spec: ModelSpec, *, client: Any = None) -> HFGenerator | OpenAIGenerator:
    """Build the generator a spec names: a local model loads here, once; an `openai:` spec needs its `client`
    (`tools.builders.generator_loader()` builds one per spec from the environment).
    """
    if spec.kind == "hf":
        return HFGenerator(spec)
    if client is None:
        raise TunewiseError(
            f"no OpenAI client was given for {spec}", hint="build one with tools.clients.get_openai_client"
        )
    return OpenAIGenerator(spec, client=client)


__all__ = ["Generation", "HFGenerator", "OpenAIGenerator", "load_generator"]
