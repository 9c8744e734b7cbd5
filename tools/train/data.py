"""Chat examples -> token ids and labels, rendered with the base model's own chat template.

The loss covers assistant turns only, and each trained assistant turn includes the template's end-of-turn token
(`<|eot_id|>`, `<|im_end|>`, `</s>`, ...), so the exported model stops where the trained one did. Spans are found
by rendering the conversation prefix by prefix: the assistant turn is what rendering it adds after the generation
prompt; tokens whose text starts inside such a span get labels, every other token gets -100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.dataset.formats import ChatExample
from tools.errors import TunewiseError, UsageError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
NAMED_TEMPLATES = ("chatml", "plain")
IGNORE = -100  # the label transformers' loss skips
_PROBE = [{"role": "user", "content": "Ping?"}, {"role": "assistant", "content": "Pong, 42."}]


@dataclass(frozen=True)
class EndOfTurn:
    """How the template closes an assistant turn: its text (a stop string) and token id when it is one token."""

    text: str
    token_id: int | None


@dataclass
class Prepared:
    """Tokenized rows ready for the trainer, and what happened on the way."""

    rows: list[dict[str, list[int]]]
    tokens: int = 0  # tokens in the rows, one epoch
    trained_tokens: int = 0  # of those, tokens with a label
    truncated: int = 0
    dropped: int = 0
    warnings: list[str] = field(default_factory=list)


def named_template(name: str) -> str:
    """Read prompts/NAME.jinja, one of NAMED_TEMPLATES; raise TunewiseError (exit code 2) for any other name."""
    path = PROMPTS_DIR / f"{name}.jinja"
    if name not in NAMED_TEMPLATES or not path.is_file():
        raise UsageError(f"unknown chat template '{name}'", hint=f"use one of: {', '.join(NAMED_TEMPLATES)}")
    return path.read_text("utf-8")


def _render(
    tokenizer: Any, template: str, messages: list[dict[str, Any]], *, add_generation_prompt: bool = False
) -> str:
    clean = [{k: v for k, v in m.items() if k != "weight"} for m in messages]
    return tokenizer.apply_chat_template(
        clean, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def end_of_turn(tokenizer: Any, template: str) -> EndOfTurn | None:
    """Return the marker the template writes right after an assistant message, or None when it writes none."""
    before = _render(tokenizer, template, _PROBE[:1], add_generation_prompt=True)
    after = _render(tokenizer, template, _PROBE)
    content = _PROBE[1]["content"]
    at = after.find(content, len(before))
    if not after.startswith(before) or at < 0:
        return None
    text = after[at + len(content) :].strip()
    if not text:
        return None
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return EndOfTurn(text=text, token_id=ids[0] if len(ids) == 1 else None)


def choose_template(tokenizer: Any, name: str | None) -> tuple[str, str, EndOfTurn, list[str]]:
    """(template, where it came from, its end-of-turn marker, warnings): the tokenizer's own unless one is named."""
    warnings: list[str] = []
    if name:
        template, source = named_template(name), f"prompts/{name}.jinja"
    elif getattr(tokenizer, "chat_template", None):
        template, source = tokenizer.chat_template, "tokenizer"
    else:
        template, source = named_template("plain"), "prompts/plain.jinja"
        warnings.append(
            "the base model's tokenizer has no chat template; used prompts/plain.jinja (saved with the adapter)"
        )
    if name == "chatml":
        for token in ("<|im_start|>", "<|im_end|>"):
            if len(tokenizer(token, add_special_tokens=False)["input_ids"]) != 1:
                raise UsageError(
                    f"the chatml template needs the token {token}, which this tokenizer lacks",
                    hint="use --chat-template plain",
                )
    if "plain" in source and not tokenizer.eos_token:
        raise TunewiseError(
            "the tokenizer has no eos token, so the model could not learn to stop",
            hint="use a base model whose tokenizer defines eos_token",
        )
    try:
        eot = end_of_turn(tokenizer, template)
    except Exception as exc:  # a template may reject a user/assistant probe (jinja raise_exception)
        raise TunewiseError(
            f"the chat template ({source}) cannot render a plain user/assistant exchange ({exc})",
            hint="name a template with --chat-template plain",
        ) from None
    if eot is None and source == "tokenizer":
        warnings.append(
            "the base model's chat template does not end assistant turns with a token, so a fine-tuned "
            "model would not learn to stop; used prompts/plain.jinja, which ends them with eos"
        )
        return choose_template(tokenizer, "plain")[:3] + (warnings,)
    if eot is None:
        raise TunewiseError(
            f"the chat template {source} writes no end-of-turn marker", hint="use --chat-template plain"
        )
    return template, source, eot, warnings


def _spans(tokenizer: Any, template: str, example: ChatExample, eot: EndOfTurn) -> tuple[str, list[tuple[int, int]]]:
    """Return the rendered text and the character spans of its trained assistant turns, each ending after the marker."""
    messages = example.messages
    text = _render(tokenizer, template, messages)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        prefix = _render(tokenizer, template, messages[:i], add_generation_prompt=True) if i else ""
        through = _render(tokenizer, template, messages[: i + 1])
        if not through.startswith(prefix) or not text.startswith(through):
            raise TunewiseError(
                "the chat template renders earlier turns differently once later turns follow, so the "
                "assistant turns cannot be located",
                line=example.line,
                hint="use --chat-template chatml or plain",
            )
        start = len(prefix)
        end = through.rfind(eot.text)
        end = end + len(eot.text) if end >= start else len(through)
        spans.append((start, end))
    return text, spans


def tokenize(
    examples: list[ChatExample], tokenizer: Any, template: str, eot: EndOfTurn, max_len: int, *, path: str = ""
) -> Prepared:
    """Render, tokenize and label every example; truncate to max_len and drop those left with nothing to learn."""
    out = Prepared(rows=[])
    for example in examples:
        try:
            text, spans = _spans(tokenizer, template, example, eot)
        except TunewiseError as exc:
            exc.path = exc.path or path
            raise
        except Exception as exc:
            raise TunewiseError(
                f"the chat template cannot render this example ({exc})",
                path=path,
                line=example.line,
                hint="fix the example, or pass --chat-template plain",
            ) from None
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        labels = [
            tok if any(s <= a < e for s, e in spans) else IGNORE for tok, (a, _) in zip(ids, enc["offset_mapping"])
        ]
        if len(ids) > max_len:
            ids, labels = ids[:max_len], labels[:max_len]
            out.truncated += 1
        trained = sum(1 for label in labels if label != IGNORE)
        if not trained:
            out.dropped += 1
            continue
        out.rows.append({"input_ids": ids, "labels": labels})
        out.tokens += len(ids)
        out.trained_tokens += trained
    if out.truncated:
        out.warnings.append(f"{out.truncated} example(s) in {Path(path).name} longer than max_seq_len were truncated")
    if out.dropped:
        out.warnings.append(
            f"{out.dropped} example(s) in {Path(path).name} had no assistant tokens to learn "
            "(weight 0 or truncated away) and were skipped"
        )
    return out
