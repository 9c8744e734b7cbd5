"""Structural checks for one training record, per format, with the stable error codes of `tunewise validate`.

Each checker appends (code, message) pairs and returns chat messages when the record is usable, else None.
The codes follow OpenAI's cookbook ("Data preparation and analysis for chat model fine-tuning") where it has one.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from tools.dataset.formats import SHAREGPT_ROLES, content_text

Problems = list[tuple[str, str]]

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call", "tool_call_id", "refusal"}
)
ALPACA_KEYS = frozenset({"instruction", "input", "output", "system", "history", "id", "metadata"})


def _check_content(msg: dict, where: str, problems: Problems) -> None:
    content = msg.get("content")
    calls = msg.get("tool_calls") or msg.get("function_call")
    if content is None:
        if not (msg.get("role") == "assistant" and calls):
            problems.append(("missing_content", f"{where} has content null; give it text"))
        return
    if isinstance(content, list):
        if not content_text(content).strip() and not calls:
            problems.append(("missing_content", f"{where} has no text in its content parts"))
        for part in content:
            if not isinstance(part, dict) or "type" not in part:
                problems.append(("data_type", f"{where} has a content part that is not an object with a 'type'"))
                break
        return
    if not isinstance(content, str):
        problems.append(
            ("data_type", f"{where} content must be a string or a list of parts, not {type(content).__name__}")
        )
    elif not content.strip() and not calls:
        problems.append(("missing_content", f"{where} has empty content"))


def _check_tool_calls(messages: list[dict], problems: Problems) -> None:
    """Every assistant tool call must be answered by a tool message with its id, and every tool message must answer one."""
    open_ids: set[str] = set()
    for i, msg in enumerate(messages):
        calls = msg.get("tool_calls")
        if calls is not None:
            if msg.get("role") != "assistant" or not isinstance(calls, list):
                problems.append(
                    ("tool_call_mismatch", f"message {i}: tool_calls must be a list on an assistant message")
                )
                continue
            for call in calls:
                fn = call.get("function") if isinstance(call, dict) else None
                if (
                    not isinstance(fn, dict)
                    or not isinstance(call.get("id"), str)
                    or not isinstance(fn.get("name"), str)
                ):
                    problems.append(
                        (
                            "tool_call_mismatch",
                            f"message {i}: each tool call needs an 'id' and a 'function' with a 'name'",
                        )
                    )
                    continue
                args = fn.get("arguments")
                try:
                    json.loads(args) if isinstance(args, str) else None
                except json.JSONDecodeError:
                    problems.append(
                        ("tool_call_mismatch", f"message {i}: tool call '{fn['name']}' arguments are not valid JSON")
                    )
                if not isinstance(args, str):
                    problems.append(("tool_call_mismatch", f"message {i}: tool call arguments must be a JSON string"))
                open_ids.add(call["id"])
        if msg.get("role") == "tool":
            tid = msg.get("tool_call_id")
            if tid not in open_ids:
                problems.append(
                    ("tool_call_mismatch", f"message {i}: tool result for '{tid}' answers no earlier tool call")
                )
            else:
                open_ids.discard(tid)
    if open_ids:
        problems.append(("tool_call_mismatch", f"tool call(s) {', '.join(sorted(open_ids))} never get a tool result"))


_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PLAIN_KEYS = frozenset({"role", "content", "name"})


def is_plain_chat(messages: Any) -> TypeGuard[list[dict[str, Any]]]:
    """Return whether `messages` is the common case, checked fast: a list of text messages with plain roles and at
    least one assistant turn (keys role, content and name only; roles system, developer, user or assistant;
    content a non-blank string).
    """
    if type(messages) is not list or not messages:
        return False
    assistant = False
    for m in messages:
        if type(m) is not dict or not m.keys() <= _PLAIN_KEYS:
            return False
        role = m.get("role")
        content = m.get("content")
        if role not in _PLAIN_ROLES or type(content) is not str or not content or content.isspace():
            return False
        assistant = assistant or role == "assistant"
    return assistant


def check_messages(messages: Any, problems: Problems, *, need_assistant: bool = True) -> list[dict] | None:
    """Check an OpenAI `messages` list; return it when usable."""
    if is_plain_chat(messages):
        return messages
    if not isinstance(messages, list) or not messages:
        problems.append(("missing_messages_list", "'messages' must be a non-empty list"))
        return None
    before = len(problems)
    for i, msg in enumerate(messages):
        where = f"message {i}"
        if not isinstance(msg, dict):
            problems.append(("data_type", f"{where} is {type(msg).__name__}, not an object"))
            continue
        if "role" not in msg:
            problems.append(("message_missing_key", f"{where} has no 'role'"))
        elif msg["role"] not in CHAT_ROLES:
            problems.append(
                ("unrecognized_role", f"{where} has role {msg['role']!r}; use system, user, assistant or tool")
            )
        if "content" not in msg and not (msg.get("tool_calls") or msg.get("function_call")):
            problems.append(("message_missing_key", f"{where} has no 'content'"))
        else:
            _check_content(msg, where, problems)
        extra = msg.keys() - MESSAGE_KEYS
        if extra:
            problems.append(
                ("message_unrecognized_key", f"{where} has unrecognized key(s) {', '.join(sorted(map(str, extra)))}")
            )
        if "weight" in msg and (
            msg["weight"] not in (0, 1) or isinstance(msg["weight"], bool) or msg.get("role") != "assistant"
        ):
            problems.append(("invalid_weight", f"{where}: 'weight' must be 0 or 1 and only on assistant messages"))
    if len(problems) > before:
        return None
    if need_assistant and not any(m["role"] == "assistant" for m in messages):
        problems.append(("example_missing_assistant_message", "no assistant message to learn from"))
        return None
    if any("tool_calls" in m or m["role"] == "tool" for m in messages):
        _check_tool_calls(messages, problems)
        if len(problems) > before:
            return None
    return messages


def check_chat(record: Any, problems: Problems) -> list[dict] | None:
    """Check an OpenAI chat record ({"messages": [...]}); return its messages when usable."""
    if not isinstance(record, dict):
        problems.append(("data_type", f"each line must be a JSON object, not {type(record).__name__}"))
        return None
    if "messages" not in record:
        problems.append(("missing_messages_list", "no 'messages' list"))
        return None
    return check_messages(record["messages"], problems)


def check_preference(record: Any, problems: Problems) -> list[dict] | None:
    """Check an OpenAI preference (DPO) record; return its input messages and the preferred answer when usable."""
    if not isinstance(record, dict):
        problems.append(("data_type", f"each line must be a JSON object, not {type(record).__name__}"))
        return None
    inp = record.get("input")
    if not isinstance(inp, dict) or "messages" not in inp:
        problems.append(("missing_messages_list", "preference example needs 'input': {'messages': [...]}"))
        return None
    messages = check_messages(inp["messages"], problems, need_assistant=False)
    outputs = []
    for key in ("preferred_output", "non_preferred_output"):
        out = record.get(key)
        if (
            not isinstance(out, list)
            or len(out) != 1
            or not isinstance(out[0], dict)
            or out[0].get("role") != "assistant"
        ):
            problems.append(("example_missing_assistant_message", f"'{key}' must be a list with one assistant message"))
            return None
        _check_content(out[0], key, problems)
        outputs.append(out[0])
    if messages is None or problems:
        return None
    return messages + [outputs[0]]


def check_alpaca(record: Any, problems: Problems) -> list[dict] | None:
    """Check an Alpaca record; return it as chat messages when usable: the system prompt if any, the instruction
    (and input) as the user turn, the output as the assistant's.
    """
    if not isinstance(record, dict):
        problems.append(("data_type", f"each record must be a JSON object, not {type(record).__name__}"))
        return None
    for key in ("instruction", "output"):
        if key not in record:
            problems.append(("message_missing_key", f"no '{key}'"))
        elif not isinstance(record[key], str):
            problems.append(("data_type", f"'{key}' must be a string"))
        elif not record[key].strip():
            problems.append(("missing_content", f"'{key}' is empty"))
    if "input" in record and record["input"] is not None and not isinstance(record["input"], str):
        problems.append(("data_type", "'input' must be a string"))
    extra = record.keys() - ALPACA_KEYS
    if extra:
        problems.append(("message_unrecognized_key", f"unrecognized key(s) {', '.join(sorted(map(str, extra)))}"))
    if problems:
        return None
    user = record["instruction"] if not record.get("input") else f"{record['instruction']}\n\n{record['input']}"
    system = (
        [{"role": "system", "content": record["system"]}]
        if isinstance(record.get("system"), str) and record["system"]
        else []
    )
    return system + [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]


def check_sharegpt(record: Any, problems: Problems) -> list[dict] | None:
    """Check a ShareGPT record ({"conversations": [{"from", "value"}]}); return it as chat messages when usable."""
    if not isinstance(record, dict):
        problems.append(("data_type", f"each record must be a JSON object, not {type(record).__name__}"))
        return None
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        problems.append(("missing_messages_list", "'conversations' must be a non-empty list"))
        return None
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            problems.append(("data_type", f"turn {i} is not an object"))
            continue
        if "from" not in turn or "value" not in turn:
            problems.append(("message_missing_key", f"turn {i} needs 'from' and 'value'"))
            continue
        role = SHAREGPT_ROLES.get(turn["from"]) if isinstance(turn["from"], str) else None
        if role is None:
            problems.append(("unrecognized_role", f"turn {i} has from={turn['from']!r}; use human, gpt or system"))
        value = turn["value"]
        if not isinstance(value, str) or not value.strip():
            problems.append(("missing_content", f"turn {i} has no text"))
        messages.append({"role": role, "content": value if isinstance(value, str) else ""})
    if problems:
        return None
    if not any(m["role"] == "assistant" for m in messages):
        problems.append(("example_missing_assistant_message", "no gpt turn to learn from"))
        return None
    return messages


CHECKERS = {"chat": check_chat, "preference": check_preference, "alpaca": check_alpaca, "sharegpt": check_sharegpt}
