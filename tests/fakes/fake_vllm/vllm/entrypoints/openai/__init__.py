"""A stand-in for vLLM (tests/fakes/fake_vllm/vllm/entrypoints/openai/api_server.py)."""
