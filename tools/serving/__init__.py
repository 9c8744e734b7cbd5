"""The OpenAI-compatible server for a deployment folder written by `tunewise deploy`: `app.create_app(DIR)`.

FastAPI loads only with `tools.serving.app`: the other modules (`tools.serving.context`, eval's +rag) import without it.
"""
