"""Which token pads a batch when the tokenizer names none.

Setting pad = eos (the usual fallback) has a cost: with packing or padding-free batches there is no attention mask,
and transformers then counts `include_num_input_tokens_seen="non_padding"` as the tokens that differ from the pad
id (trainer.py, `_update_num_input_tokens_seen`), so every eos the model trained on drops out of `tokens_trained`.
A special token the vocabulary already reserves for padding (Llama 3's `<|finetune_right_pad_id|>`, a
`<|reserved_special_token_N|>`, `<unk>`) pads just as well and is never counted as real text; eos is the last resort.
"""

from __future__ import annotations

from typing import Any

_PREFERRED = ("pad", "reserved", "unused", "unk")


def choose_pad_token(
    special_tokens: list[str], *, eos: str | None, avoid: frozenset[str] | set[str] = frozenset()
) -> str | None:
    """Return a special token that can pad: one named for padding first, then reserved/unused ones, never eos or `avoid`."""
    banned = set(avoid) | ({eos} if eos else set())
    for word in _PREFERRED:
        for token in special_tokens:
            if token not in banned and word in token.lower():
                return token
    return eos


def set_pad_token(tokenizer: Any) -> None:
    """Give the tokenizer a pad token (in place) when it has none."""
    if tokenizer.pad_token is not None:
        return
    specials = list(
        dict.fromkeys(
            [
                *tokenizer.all_special_tokens,
                *(
                    t.content
                    for t in getattr(tokenizer, "added_tokens_decoder", {}).values()
                    if getattr(t, "special", False)
                ),
            ]
        )
    )
    tokenizer.pad_token = choose_pad_token(
        specials, eos=tokenizer.eos_token, avoid={t for t in specials if "end" in t.lower() or "eot" in t.lower()}
    )
