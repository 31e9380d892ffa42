"""Built-in embedders (plugins of ``fusionsdk.embedders``), e.g. ``minilm`` (local, the default),
``litellm`` (hosted) and ``llamacpp`` (GGUF models in this process)."""
