"""Text similarity for consensus and conflict measures: embeddings when an embedder is given,
a lexical measure (character n-gram cosine or word-set Jaccard) that needs no model otherwise."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from fusionsdk.memory.base import Embedder
    from fusionsdk.registry import Registry

__all__ = ["Lexical", "embedding_similarities", "lexical_similarities", "load_embedder"]

Lexical = Literal["char_ngrams", "word_jaccard"]


def load_embedder(
    name: str, options: dict[str, Any] | None = None, path: str = "options", *, registry: Registry
) -> Embedder:
    """The ``fusionsdk.embedders`` plugin ``name`` from ``registry``, built with ``options``.

    Raises:
        ConfigError: Unknown embedder (at ``path.embedder``) or bad options (at
            ``path.embedder_options``).
    """
    from fusionsdk.registry import PluginKind

    embedder: Embedder = registry.build(
        PluginKind.EMBEDDERS,
        name,
        options or {},
        path=f"{path}.embedder_options",
        name_path=f"{path}.embedder",
    )
    return embedder


def embedding_similarities(texts: Sequence[str], embedder: Embedder) -> np.ndarray:
    """Pairwise cosine similarity of the texts' embeddings (a zero vector is similar to nothing)."""
    if not texts:
        return np.zeros((0, 0))
    return _cosine_matrix(np.asarray(embedder.embed(list(texts)), dtype=float))


def lexical_similarities(texts: Sequence[str], method: Lexical = "char_ngrams", n: int = 3) -> np.ndarray:
    """Pairwise lexical similarity in [0, 1], needing no model.

    Args:
        texts: The texts.
        method: ``char_ngrams``: cosine of character ``n``-gram counts (robust to small edits
            and word order); ``word_jaccard``: shared words over all words.
        n: The n-gram length.

    Example:
        >>> round(float(lexical_similarities(["Paris", "paris"])[0, 1]), 2)
        1.0
    """
    if method == "word_jaccard":
        sets = [set(text.casefold().split()) for text in texts]
        size = len(sets)
        matrix = np.eye(size)
        for i in range(size):
            for j in range(i + 1, size):
                union = sets[i] | sets[j]
                matrix[i, j] = matrix[j, i] = len(sets[i] & sets[j]) / len(union) if union else 1.0
        return matrix
    grams = [_char_ngrams(text, n) for text in texts]
    vocabulary = {gram: k for k, gram in enumerate({g for counts in grams for g in counts})}
    vectors = np.zeros((len(texts), len(vocabulary)))
    for i, counts in enumerate(grams):
        for gram, count in counts.items():
            vectors[i, vocabulary[gram]] = count
    return _cosine_matrix(vectors)


def _char_ngrams(text: str, n: int) -> Counter[str]:
    padded = f" {' '.join(text.casefold().split())} "
    if len(padded.strip()) == 0:
        return Counter()
    return Counter(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))


def _cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    unit = vectors / safe[:, None]
    matrix = np.clip(unit @ unit.T, -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    return matrix
