"""Ready-made dependencies for the tools, built from the factories: a generator for each model spec, a retriever
for a collection, and a deployment's own generator and retriever.

The CLI commands and the graph's step runners call these and pass the results into the tools; no tool calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tools.clients import get_chroma_client, get_openai_client, get_upstream_client

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from tools.deploy.deploy import Deployment
    from tools.models.spec import ModelSpec
    from tools.rag.search import Retriever
    from tools.serving.clients import Generator, Loader
    from tools.serving.clients import Retriever as Retrieving


def generator_loader() -> Loader:
    """Return a loader that builds the generator a model spec names, with an OpenAI client from the environment
    for `openai:` specs (local `hf:` models need none).
    """

    def load(spec: ModelSpec) -> Generator:
        from tools.models.generation import load_generator

        client = get_openai_client(base_url=spec.base_url) if spec.kind == "openai" else None
        return load_generator(spec, client=client)

    return load


def collection_search_spec(client: ClientAPI, collection: str) -> str:
    """Return the embedder spec a search of `collection` uses: the one it was built with (`local` when it says none)."""
    from tools.rag.collection import collection_embedder
    from tools.rag.embedders import search_spec

    return search_spec(collection_embedder(client, collection))


def retriever_for(collection: str, db: Path | None) -> Retriever:
    """Open `collection` for retrieval with the embedder it was built with (the local MiniLM when it says none)."""
    from tools.rag.embedders import get_embedder
    from tools.rag.search import Retriever

    client = get_chroma_client(db)
    return Retriever(client, collection, get_embedder(collection_search_spec(client, collection)))


def deployment_clients(
    folder: Path, *, upstream: str | None = None, upstream_key_env: str | None = None
) -> tuple[Generator, Retrieving]:
    """Build what serving a deployment folder needs: its generator and its retriever (notes say what was assumed).

    With `upstream` (an OpenAI-compatible URL ending in /v1), generation goes to that server under the deployment's
    name, checked at once (tools/serving/upstream.check_served), and prompts are counted here against the window
    it reports.
    """
    from tools.deploy.deploy import load_deployment
    from tools.rag.embedders import get_embedder
    from tools.rag.search import Retriever

    deployment = load_deployment(folder, verify=False)  # create_app verifies it, once
    r = deployment.retrieval
    spec = deployment.generator_spec(folder)
    if upstream is not None:
        from tools.models.spec import ModelSpec

        spec = ModelSpec.openai(deployment.name, base_url=upstream)
    if deployment.private:  # checked each time it is served, under the settings it is served with
        from tools.deploy.deploy import serving_flows
        from tools.privacy.destinations import EndpointPolicy, refuse_hosted

        refuse_hosted("serve", serving_flows(spec, r.embedder_spec, EndpointPolicy.from_env()))
    client = get_chroma_client(Path(r.db) if r.db else None, r.chroma_url)
    retriever = Retriever(client, r.collection, get_embedder(r.embedder_spec), mode=r.mode)
    if not r.recorded_mode:
        retriever.notes.append(
            "this deployment records no retrieval mode (written before hybrid retrieval): "
            "serving dense as deployed; re-run `tunewise deploy` for hybrid"
        )
    if upstream is None:
        return generator_loader()(spec), retriever
    return upstream_generator(deployment, folder, upstream, key_env=upstream_key_env), retriever


def upstream_generator(deployment: Deployment, folder: Path, url: str, *, key_env: str | None = None) -> Generator:
    """Return a generator for the deployment's model served at `url` under its name: counted here against the
    upstream's window when the deployment's tokenizer is on this machine, else left to the upstream to check.
    """
    from tools.models.generation import OpenAIGenerator
    from tools.models.spec import ModelSpec
    from tools.serving.upstream import Counted, check_served

    client = get_upstream_client(url, key_env=key_env)
    window = check_served(client, deployment.name, url)
    generator = OpenAIGenerator(ModelSpec.openai(deployment.name, base_url=url), client=client, max_workers=16)
    m = deployment.model
    source = _tokenizer_folder(deployment, folder)
    if window is None or m.kind != "hf" or source is None or not m.chat_template:
        return generator
    from transformers import AutoTokenizer

    return Counted(generator, AutoTokenizer.from_pretrained(str(source)), m.chat_template, window)


def _tokenizer_folder(deployment: Deployment, folder: Path) -> Path | None:
    """Return the local folder holding the deployment's tokenizer: the merged model, the adapter, or the base."""
    m = deployment.model
    for candidate in (m.merged and folder / m.merged, m.adapter and folder / m.adapter, m.base and Path(m.base)):
        if candidate and (Path(candidate) / "tokenizer_config.json").is_file():
            return Path(candidate)
    return None
