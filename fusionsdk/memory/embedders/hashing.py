"""``hashing``: a model-free embedder (the hashing trick over words, word pairs and character
n-grams), the fallback when no neural embedder such as ``minilm`` is installed.

Each feature is hashed (BLAKE2b, so vectors are the same in every process) to one of
``dimension`` buckets with a sign; counts are damped (``1 + log(count)``, TF-IDF's sublinear term
frequency) and the vector is L2-normalised, so cosine similarity reads as lexical overlap.
Character n-grams inside words make it tolerant of inflections and typos ("refund" is near
"refunds"). It knows no synonyms: "car" and "automobile" are unrelated to it.

Example:
    >>> from fusionsdk.memory.embedders.hashing import HashingEmbedder
    >>> a, b, c = HashingEmbedder().embed(["refund my order", "refunds for orders", "weather today"])
    >>> sum(x * y for x, y in zip(a, b)) > sum(x * y for x, y in zip(a, c))
    True
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from fusionsdk.memory.base import Embedder
from fusionsdk.memory.embedders._vectors import check_texts
from fusionsdk.plugin import PluginOptions

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class HashingEmbedder(Embedder["HashingEmbedder.Options"]):
    """Feature-hashed bag of words, word pairs and character n-grams; no model, no network."""

    class Options(PluginOptions):
        """Options of hashing.

        Attributes:
            dimension: Length of the vectors (buckets of the hashing trick).
            char_ngrams: Lengths of the character n-grams taken inside words (``[]``: none).
            word_pairs: Also count adjacent word pairs (some word order).
        """

        dimension: int = Field(1024, ge=8, le=1 << 20)
        char_ngrams: list[int] = Field(default_factory=lambda: [3, 4], max_length=4)
        word_pairs: bool = True

    @property
    def identity(self) -> str:
        opts: HashingEmbedder.Options = self.options
        return f"hashing:{opts.dimension}:{','.join(map(str, opts.char_ngrams))}:{int(opts.word_pairs)}"

    def __init__(self, options: PluginOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        opts: HashingEmbedder.Options = self.options
        if any(n < 1 for n in opts.char_ngrams):
            from fusionsdk.errors import ConfigError

            raise ConfigError("n-gram lengths must be at least 1", path="options.char_ngrams")
        self.dimension = opts.dimension  # type: ignore[misc]

    def features(self, text: str) -> Counter[str]:
        """The features of ``text`` and their counts (before hashing)."""
        opts: HashingEmbedder.Options = self.options
        words = _WORD.findall(text.casefold())
        found: Counter[str] = Counter(f"w:{w}" for w in words)
        if opts.word_pairs:
            found.update(f"p:{a} {b}" for a, b in itertools.pairwise(words))
        for word in words:
            padded = f"<{word}>"
            for n in opts.char_ngrams:
                found.update(f"c:{padded[i : i + n]}" for i in range(max(1, len(padded) - n + 1)))
        return found

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for feature, count in self.features(text).items():
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(text) for text in check_texts(texts)]
