"""Ready-made dependencies for the tools, built from the factories: a generator for each model spec, a retriever
for a collection, and a deployment's own generator and retriever.

The CLI commands and the graph's step runners call these and pass the results into the tools; no tool calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tools.clients import get_chroma_client, get_openai_client

if TYPE_CHECKING:
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


def retriever_for(collection: str, db: Path | None) -> Retriever:
    """Open `collection` for retrieval with the embedder it was built with (the local MiniLM when it says none)."""
    from tools.rag.collection import collection_embedder
    from tools.rag.embedders import get_embedder, search_spec
    from tools.rag.search import Retriever

    client = get_chroma_client(db)
    return Retriever(client, collection, get_embedder(search_spec(collection_embedder(client, collection))))


def deployment_clients(folder: Path) -> tuple[Generator, Retrieving]:
    """Build what serving a deployment folder needs: its generator and its retriever (notes say what was assumed)."""
    from tools.deploy.deploy import load_deployment
    from tools.rag.embedders import get_embedder
    from tools.rag.search import Retriever

    deployment = load_deployment(folder, verify=False)  # create_app verifies it, once
    r = deployment.retrieval
    if deployment.private:  # checked each time it is served, under the settings it is served with
        from tools.deploy.deploy import serving_flows
        from tools.privacy.destinations import EndpointPolicy, refuse_hosted

        refuse_hosted(
            "serve", serving_flows(deployment.generator_spec(folder), r.embedder_spec, EndpointPolicy.from_env())
        )
    client = get_chroma_client(Path(r.db) if r.db else None, r.chroma_url)
    retriever = Retriever(client, r.collection, get_embedder(r.embedder_spec), mode=r.mode)
    if not r.recorded_mode:
        retriever.notes.append(
            "this deployment records no retrieval mode (written before hybrid retrieval): "
            "serving dense as deployed; re-run `tunewise deploy` for hybrid"
        )
    return generator_loader()(deployment.generator_spec(folder)), retriever
