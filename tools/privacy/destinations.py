"""Where a step sends the user's data, read from the model spec it will use and the endpoint that spec resolves to.

Three places, in the order a privacy officer cares about them:
- "this machine": a local model (`hf:`), or an endpoint on the loopback interface;
- "local endpoint": an OpenAI-compatible server on the user's own network (a private address, a single-label or
  `.internal`/`.local`/`.lan` name, or a host listed in TUNEWISE_LOCAL_ENDPOINTS);
- "hosted API": anything else, api.openai.com first of all.

Names alone can mislead both ways, so two settings correct them: TUNEWISE_LOCAL_ENDPOINTS for an in-house server
with a public-looking DNS name, and TUNEWISE_HOSTED_ENDPOINTS for a server on this machine that forwards to a hosted
API (a LiteLLM or other proxy on 127.0.0.1 still sends the data out). Each is a comma-separated list of HOST or
HOST:PORT.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import UsageError
from tools.models.spec import ModelSpec, parse_spec

Where = Literal["this machine", "local endpoint", "hosted API"]
OPENAI_URL = "https://api.openai.com/v1"  # where the openai client goes when nothing else is named
# Names that by convention never resolve on the public internet (RFC 6761/6762/8375, and the usual corporate ones).
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


class DataFlow(BaseModel):
    """One kind of user data and where a step sends it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    where: Where
    endpoint: str | None = Field(default=None, description="HOST[:PORT] of the endpoint; None for a local model.")
    what: str = Field(description="The data that goes there, in words (e.g. 'the held-out examples').")

    @property
    def leaves(self) -> bool:
        """Tell whether the data goes to a hosted API, outside the user's organisation."""
        return self.where == "hosted API"

    def place(self) -> str:
        """Say where, for people: 'this machine', '10.0.0.5:8000 (local endpoint)', 'api.openai.com (hosted API)'."""
        if self.endpoint is None:
            return self.where
        return f"{self.endpoint} ({self.where})"


class EndpointPolicy(BaseModel):
    """How endpoints are classed: the default endpoint of `openai:` specs and the user's two correction lists."""

    model_config = ConfigDict(frozen=True)

    default_url: str = OPENAI_URL
    local: frozenset[str] = frozenset()
    hosted: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EndpointPolicy:
        """Read OPENAI_BASE_URL, TUNEWISE_LOCAL_ENDPOINTS and TUNEWISE_HOSTED_ENDPOINTS (now, not cached)."""
        env = os.environ if environ is None else environ

        def hosts(name: str) -> frozenset[str]:
            return frozenset(h.strip().lower() for h in env.get(name, "").split(",") if h.strip())

        return cls(
            default_url=env.get("OPENAI_BASE_URL") or OPENAI_URL,
            local=hosts("TUNEWISE_LOCAL_ENDPOINTS"),
            hosted=hosts("TUNEWISE_HOSTED_ENDPOINTS"),
        )


def classify(url: str, policy: EndpointPolicy) -> tuple[Where, str]:
    """Return where `url` sends data and its HOST[:PORT] (the user's lists win over what the address looks like)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    endpoint = f"{host}:{port}" if port else host
    if endpoint in policy.hosted or host in policy.hosted:
        return "hosted API", endpoint
    if endpoint in policy.local or host in policy.local:
        return "local endpoint", endpoint
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if ip.is_loopback:
            return "this machine", endpoint
        if ip.is_private or ip.is_link_local:
            return "local endpoint", endpoint
        return "hosted API", endpoint
    if host == "localhost":
        return "this machine", endpoint
    if "." not in host or host.endswith(_LOCAL_SUFFIXES):
        return "local endpoint", endpoint
    return "hosted API", endpoint


def flow(spec: str | ModelSpec, what: str, policy: EndpointPolicy) -> DataFlow:
    """Return where a model spec sends `what`: a local model keeps it here; an endpoint is classed by its URL."""
    model = parse_spec(spec) if isinstance(spec, str) else spec
    if model.kind == "hf":
        return DataFlow(where="this machine", what=what)
    where, endpoint = classify(model.base_url or policy.default_url, policy)
    return DataFlow(where=where, endpoint=endpoint, what=what)


def here(what: str) -> DataFlow:
    """Return the flow of work done on this machine alone (splitting, local embedding, local training)."""
    return DataFlow(where="this machine", what=what)


LOCAL_HINT = "(openai:MODEL@http://HOST:PORT/v1); TUNEWISE_LOCAL_ENDPOINTS=HOST marks an in-house server"


def refuse_hosted(
    step: str, flows: list[DataFlow], *, fix: str = "name a local model (--answer base_model=PATH)"
) -> None:
    """Raise, in one line, when a step of a private plan would send data to a hosted API; before any request.
    `fix` says what to name instead (the plan's words by default), before the in-house endpoint form.
    """
    for f in flows:
        if f.leaves:
            raise UsageError(
                f"refused: the {step} step would send {f.what} to {f.endpoint}, a hosted API, and this plan's data "
                f"must stay in-house",
                hint=f"{fix} or an in-house endpoint {LOCAL_HINT}",
            )


def leaves_line(flows: list[tuple[str, DataFlow]]) -> str:
    """Say in one line whether any step sends data off this machine, and which data where: the approval's line."""
    hosted = [(step, f) for step, f in flows if f.leaves]
    if hosted:
        return "yes: " + "; ".join(f"{f.what} to {f.endpoint} ({step})" for step, f in hosted)
    local = [(step, f) for step, f in flows if f.where == "local endpoint"]
    if local:
        return "only to in-house endpoints: " + "; ".join(f"{f.what} to {f.endpoint} ({step})" for step, f in local)
    return "no"
