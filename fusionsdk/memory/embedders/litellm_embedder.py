"""``litellm``: hosted embedding models through LiteLLM (OpenAI, Cohere, Voyage, Bedrock, Azure,
any OpenAI-compatible server, ...).

LiteLLM is imported lazily, and its errors are translated at the one LiteLLM boundary
(:func:`fusionsdk.providers.litellm_boundary.map_litellm_error`), so a refused key is an
:class:`~fusionsdk.errors.AuthError` and a throttled call a :class:`~fusionsdk.errors.RateLimited`,
as for chat models. Keys come from the environment variable ``api_key_env`` names.

Texts sent to a hosted embedder leave this machine, so it goes through the privacy gate as hosted
models do: texts of a sensitive thread, or texts in which a detector finds personal data, are
refused with :class:`~fusionsdk.errors.PrivacyViolation`. An OpenAI-compatible server on this
machine (``base_url`` on loopback) may be declared ``locality: local``.

Config::

    memory:
      docs:
        store: chroma
        path: ./store
        embedder: litellm
        embedder_options: {model: openai/text-embedding-3-small, dimension: 1536,
                           api_key_env: OPENAI_API_KEY}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from fusionsdk._sync import run_sync
from fusionsdk.config.urls import check_base_url
from fusionsdk.errors import SecretMissing
from fusionsdk.memory.base import Embedder
from fusionsdk.memory.embedders._vectors import check_texts
from fusionsdk.memory.errors import EmbedderError
from fusionsdk.plugin import PluginOptions

__all__ = ["LiteLLMEmbedder"]


class LiteLLMEmbedder(Embedder["LiteLLMEmbedder.Options"]):
    """A hosted embedding model called through ``litellm.aembedding``, in batches."""

    class Options(PluginOptions):
        """Hosted embedder options.

        Attributes:
            model: LiteLLM model id (``openai/text-embedding-3-small``, ``cohere/embed-english-v3.0``).
            dimension: Length of the model's vectors (checked on every answer).
            api_key_env: Environment variable holding the API key (never the key itself).
            base_url: Endpoint of an OpenAI-compatible server, when not the provider's own.
            batch_size: Texts per request.
            timeout_s: Per-request timeout.
            send_dimensions: Ask the model for ``dimension``-long vectors (OpenAI's v3 models
                can shorten theirs).
            locality: ``hosted`` (default: texts leave this machine, so the privacy gate
                applies) or ``local`` (a server you run yourself).
        """

        model: str = Field(min_length=1)
        dimension: int = Field(gt=0, le=65536)
        api_key_env: str | None = None
        base_url: str | None = None
        batch_size: int = Field(96, ge=1, le=2048)
        timeout_s: float = Field(60.0, gt=0)
        send_dimensions: bool = False
        locality: Literal["local", "hosted"] = "hosted"

        @field_validator("base_url")
        @classmethod
        def _url(cls, value: str | None) -> str | None:
            return None if value is None else check_base_url(value)

        @field_validator("api_key_env")
        @classmethod
        def _env_name(cls, value: str | None) -> str | None:
            if value is not None and not value.replace("_", "a").isalnum():
                raise ValueError("must be the NAME of an environment variable, not a key")
            return value

    @property
    def dimension(self) -> int:  # type: ignore[override]
        return int(self.options.dimension)

    @property
    def locality(self) -> Literal["local", "hosted"]:
        return self.options.locality  # type: ignore[attr-defined,no-any-return]

    @property
    def identity(self) -> str:
        return f"litellm:{self.options.model}"

    def _params(self) -> dict[str, Any]:
        opts: LiteLLMEmbedder.Options = self.options
        # Ask for no retries below us (LiteLLM's OpenAI path still makes the openai SDK retry twice
        # on 429 and 5xx: it reads 0 as "use the default").
        params: dict[str, Any] = {"model": opts.model, "timeout": opts.timeout_s, "max_retries": 0}
        if opts.api_key_env is not None:
            if not os.environ.get(opts.api_key_env, "").strip():
                raise SecretMissing(opts.api_key_env, model=opts.model)
            from fusionsdk.config.models import ModelSpec
            from fusionsdk.providers.secrets import api_key  # remembers the key, for redaction

            spec = ModelSpec(name="embedder", provider="litellm", api_key_env=opts.api_key_env)
            params["api_key"] = api_key(spec)
        if opts.base_url is not None:
            params["api_base"] = opts.base_url
        if opts.send_dimensions:
            params["dimensions"] = opts.dimension
        return params

    async def _batch(self, texts: list[str], params: dict[str, Any]) -> list[list[float]]:
        from fusionsdk.providers.litellm_boundary import litellm, map_litellm_error
        from fusionsdk.providers.secrets import scrub_exception

        failure: Exception | None = None
        try:
            response = await litellm().aembedding(input=texts, **params)
        except Exception as err:  # every LiteLLM/openai/httpx error, mapped at the boundary
            failure = scrub_exception(map_litellm_error(err))  # type: ignore[assignment]
        if failure is not None:
            raise failure  # outside the handler: nothing chains to the error it replaced
        items = sorted(response.data, key=lambda item: _field(item, "index"))
        vectors = [[float(v) for v in _field(item, "embedding")] for item in items]
        if len(vectors) != len(texts):
            raise EmbedderError(f"{params['model']} returned {len(vectors)} vectors for {len(texts)} texts")
        for vector in vectors:
            if len(vector) != self.dimension:
                raise EmbedderError(
                    f"{params['model']} returned vectors of {len(vector)} dimensions; "
                    f"embedder_options.dimension says {self.dimension}"
                )
        return vectors

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed`, awaitable."""
        items = check_texts(texts)
        if not items:
            return []
        if any(not text.strip() for text in items):
            raise EmbedderError("hosted embedders refuse empty texts")
        params = self._params()
        size = self.options.batch_size
        vectors: list[list[float]] = []
        for start in range(0, len(items), size):
            vectors += await self._batch(items[start : start + size], params)
        return vectors

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return run_sync(self.aembed(texts))


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)
