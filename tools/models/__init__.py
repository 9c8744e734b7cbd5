"""Models and generation: model specs as users write them, local and OpenAI-compatible generation, smoke models."""
