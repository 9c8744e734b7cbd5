"""OpenAI errors as one line: every failure of the `openai` client (or the httpx under it) becomes a TunewiseError
that says what was being done, the HTTP status and code, the server's own words and what to do, and never a key.

    try:
        page = client.fine_tuning.jobs.list(limit=20)
    except Exception as exc:
        raise openai_error(exc, "listing fine-tuning jobs", client=client) from exc

or, where anything that is not an API error (a bug) should pass through untouched:

    with translated("listing fine-tuning jobs", client=client):
        page = client.fine_tuning.jobs.list(limit=20)

`scrub` is the one place keys are removed from text: the key the client holds, OPENAI_API_KEY's value, anything
shaped like an OpenAI key (`sk-...`), a bearer token and the password of a URL. The original exception stays the
cause of the TunewiseError, with its text scrubbed as well, so a traceback written to a log shows no key either.
`openai` is imported by nobody here: errors are told apart by their class names, so this module works, and
imports, without the optional package.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlsplit

from tools.errors import TunewiseError

MASK = "***"
MAX_DETAIL = 300  # characters of the server's message kept: enough for OpenAI's, not a whole HTML error page
OPENAI_HOST = "api.openai.com"
_KEY_SHAPED = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-*]{8,}")  # sk-..., sk-proj-..., sk-svcacct-...
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")
_API_FAMILIES = ("openai", "httpx", "httpx2", "httpcore")  # the client and the transports under it
_MODEL_CODES = ("model_not_found", "model_not_available", "invalid_model")


def scrub(text: str, client: Any = None) -> str:
    """Return `text` without API keys: the one `client` holds, OPENAI_API_KEY's, any `sk-...`, bearer tokens and
    URL passwords. Use it on anything from an endpoint that may reach a terminal, a log or a report.
    """
    for key in (getattr(client, "api_key", None), os.environ.get("OPENAI_API_KEY")):
        if isinstance(key, str) and len(key) >= 8:  # a shorter "key" is a local server's placeholder, not a secret
            text = text.replace(key, MASK)
    text = _KEY_SHAPED.sub(f"sk-{MASK}", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)


def is_api_error(exc: BaseException) -> bool:
    """Tell whether `exc` comes from the openai client or its HTTP transport (and not from a bug of ours)."""
    return any(k.__module__.split(".")[0] in _API_FAMILIES for k in type(exc).__mro__[:-2])


def _kinds(exc: BaseException) -> set[str]:
    return {k.__name__ for k in type(exc).__mro__}


def status_of(exc: BaseException) -> int | None:
    """Return the HTTP status the server answered with, None when there was no answer (or it is not an HTTP error)."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _body(exc: BaseException) -> Any:
    body = getattr(exc, "body", None)
    if body is None and "HTTPStatusError" in _kinds(exc):  # httpx raised it directly: read the error response
        try:
            body = exc.response.json()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - not JSON: the text is read below instead
            body = getattr(getattr(exc, "response", None), "text", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]  # OpenAI's {"error": {...}} shape, where the SDK has not unwrapped it
    return body


def code_of(exc: BaseException) -> str | None:
    """Return the server's error code (e.g. invalid_api_key, model_not_found), None when it sent none."""
    code = getattr(exc, "code", None)
    if code is None and isinstance(body := _body(exc), dict):
        code = body.get("code")
    return str(code) if code not in (None, "") else None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def server_message(exc: BaseException, client: Any = None) -> str:
    """Return the server's own message (or, with no answer, what the transport said), scrubbed and on one line,
    without the SDK's "Error code: 400 - {...}" wrapping.
    """
    body = _body(exc)
    text: Any = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("error_description") or body.get("detail") or body.get("error")
    elif isinstance(body, str):
        text = body
    if not (isinstance(text, str) and text.strip()) and status_of(exc) is None:
        cause = exc.__cause__ or exc.__context__  # a connection error: the socket's reason says more than the SDK's
        if cause is not None and str(cause).strip():
            text = str(cause)
    if not (isinstance(text, str) and text.strip()):
        text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return _one_line(scrub(str(text), client))


def _where(exc: BaseException, client: Any) -> str:
    url = getattr(client, "base_url", None)
    if url is None:
        url = getattr(getattr(exc, "request", None), "url", None)
    return scrub(str(url), client) if url else ""


def _default_who(exc: BaseException, client: Any) -> str:
    where = _where(exc, client)
    host = urlsplit(where if "://" in where else f"https://{where}").hostname if where else None
    return "OpenAI" if host in (None, OPENAI_HOST) else "the endpoint"


def scrub_exception(exc: BaseException, client: Any = None) -> None:
    """Scrub the text of `exc` and its causes in place: they stay attached to the TunewiseError, and a traceback of
    it (in a log) prints them.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < 8:
        seen.add(id(link))
        link.args = tuple(scrub(a, client) if isinstance(a, str) else a for a in link.args)
        if isinstance(getattr(link, "message", None), str):
            try:
                link.message = scrub(link.message, client)  # type: ignore[attr-defined]
            except AttributeError:  # a read-only property: its text is in args, scrubbed above
                pass
        link = link.__cause__ or link.__context__


def openai_error(
    exc: BaseException,
    doing: str,
    *,
    client: Any = None,
    who: str | None = None,
    not_found: str | None = None,
    also: str | None = None,
) -> TunewiseError:
    """Turn an exception from the openai client (or httpx) into one line: what failed while `doing`, the status and
    code, the server's words, a hint, and no key. A TunewiseError is returned as it is.

    `who` names the other side ("the LLM endpoint"; default "OpenAI", or "the endpoint" for another base URL);
    `not_found` is the hint for a 404 (default: check the model name, or the name or id); `also` is appended to every
    hint (e.g. "or use --llm offline"). Raise the result `from exc`: the cause is kept, its text scrubbed.
    """
    if isinstance(exc, TunewiseError):
        return exc
    scrub_exception(exc, client)
    who = who or _default_who(exc, client)
    kinds = _kinds(exc)
    status, code = status_of(exc), code_of(exc)
    detail = server_message(exc, client)
    answered = f"{status} {code}" if code else f"{status}"
    hint: str | None
    if "APIResponseValidationError" in kinds:
        message = f"{who} sent an answer tunewise cannot read while {doing} ({answered}): {detail}"
        hint = "the endpoint may not support this call; check OPENAI_BASE_URL"
    elif status == 401:
        message = f"{who} rejected the API key while {doing} ({answered}): {detail}"
        hint = "check OPENAI_API_KEY (and OPENAI_BASE_URL for a proxy or Azure-style endpoint)"
    elif status == 403:
        message = f"{who} refused access while {doing} ({answered}): {detail}"
        hint = "check that OPENAI_API_KEY's project may use this model or endpoint"
    elif status == 404:
        message = f"not found while {doing} ({who} answered {answered}): {detail}"
        model = code in _MODEL_CODES or "model" in detail.lower()
        hint = not_found or ("check the model name" if model else "check the name or id, and OPENAI_BASE_URL")
    elif status == 429:
        message = f"{who} answered {answered} while {doing}: {detail}"
        quota = code == "insufficient_quota" or "quota" in detail.lower()
        hint = (
            "the account is out of quota: check its billing and usage limits"
            if quota
            else "rate limit reached: wait a minute and try again, or send fewer requests at once"
        )
    elif status is not None:
        message = f"{who} answered {answered} while {doing}: {detail}"
        hint = "the server failed: try again later (status.openai.com for OpenAI)" if status >= 500 else None
    elif kinds & {"APITimeoutError", "TimeoutException"}:
        where = _where(exc, client)
        message = f"{who} did not answer in time while {doing}" + (f" ({where})" if where else "")
        hint = "try again; if it persists, check OPENAI_BASE_URL and the network"
    elif kinds & {"APIConnectionError", "TransportError", "RequestError"}:
        where = _where(exc, client)
        message = f"cannot reach {who}" + (f" at {where}" if where else "") + f" while {doing}: {detail}"
        hint = "check OPENAI_BASE_URL and the network"
    elif is_api_error(exc):
        message = f"{who} client error while {doing}: {detail}"
        hint = None
    else:
        message = f"{type(exc).__name__} while {doing}: {detail}"
        hint = None
    return TunewiseError(message, hint="; ".join(h for h in (hint, also) if h) or None)


@contextmanager
def translated(
    doing: str,
    *,
    client: Any = None,
    who: str | None = None,
    not_found: str | None = None,
    also: str | None = None,
) -> Iterator[None]:
    """Raise `openai_error(...) from exc` for an API error in the block; anything else (a bug) passes untouched."""
    try:
        yield
    except Exception as exc:
        if not is_api_error(exc):
            raise
        raise openai_error(exc, doing, client=client, who=who, not_found=not_found, also=also) from exc


__all__ = [
    "code_of",
    "is_api_error",
    "openai_error",
    "scrub",
    "scrub_exception",
    "server_message",
    "status_of",
    "translated",
]
