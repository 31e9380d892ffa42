"""Sensitivity that outlives one call: the privacy scope, and the gate hosted embedders go through.

A graph step runs inside a :func:`privacy_scope` that says whether its thread has seen
sensitive data (a flag kept in the run state, sticky across runs of the thread; see
:mod:`fusionsdk.graph.state`). Inside a sensitive scope every hosted model and every hosted
embedder is refused, whatever the metadata of the single call says; and whatever a detector
finds during the step marks the scope, so the thread stays sensitive afterwards.

The scope is a :class:`contextvars.ContextVar`: it follows ``await``, tasks and
``asyncio.to_thread`` (and fusionsdk's sync wrappers), so code several layers below a node
(a memory store embedding a query, a router, a fusion strategy) is covered without passing
anything along.

Example:
    >>> with privacy_scope(sensitive=True, kinds=["email"]):
    ...     check_embedding("litellm:openai/text-embedding-3-small", "hosted", ["a query"])
    Traceback (most recent call last):
    ...
    fusionsdk.errors.PrivacyViolation: sensitive request (email) may only reach local models; ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

from fusionsdk.errors import PrivacyViolation
from fusionsdk.providers.privacy import PrivacyPolicy

__all__ = ["PrivacyScope", "check_embedding", "current_scope", "privacy_scope"]


@dataclass
class PrivacyScope:
    """Whether the work under way belongs to a thread that has seen sensitive data.

    Attributes:
        sensitive: True once anything sensitive is known (from the thread, or found now).
        kinds: What made it sensitive (``email``, ``flag``, ``memory``...), never the data.
        policy: The policy whose detectors scan what leaves for hosted services.
    """

    sensitive: bool = False
    kinds: list[str] = field(default_factory=list)
    policy: PrivacyPolicy | None = None

    def mark(self, kinds: Iterable[str]) -> None:
        """Record that sensitive data (of ``kinds``) was seen: the scope is sensitive from now."""
        self.sensitive = True
        self.kinds.extend(k for k in kinds if k not in self.kinds)


_SCOPE: ContextVar[PrivacyScope | None] = ContextVar("fusionsdk_privacy_scope", default=None)


def current_scope() -> PrivacyScope | None:
    """The innermost active scope, or None outside any."""
    return _SCOPE.get()


@contextlib.contextmanager
def privacy_scope(
    sensitive: bool = False, kinds: Sequence[str] = (), policy: PrivacyPolicy | None = None
) -> Iterator[PrivacyScope]:
    """Run a block as part of a thread that is (or is not yet) sensitive.

    A nested scope starts as sensitive as the one around it, and what it finds marks the outer
    one too when it ends.

    Args:
        sensitive: Whether the thread has already seen sensitive data.
        kinds: What made it sensitive.
        policy: The detectors' policy (the enclosing scope's, else the default policy).
    """
    outer = _SCOPE.get()
    scope = PrivacyScope(bool(sensitive), list(dict.fromkeys(kinds)), policy)
    if outer is not None:
        if outer.sensitive:
            scope.mark(outer.kinds)
        scope.policy = scope.policy or outer.policy
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)
        if outer is not None and scope.sensitive:
            outer.mark(scope.kinds)


def check_embedding(identity: str, locality: str, texts: Sequence[str]) -> None:
    """The embedder gate: refuse texts bound for a hosted embedder when the scope is sensitive
    or a detector finds personal data in them (the scope is marked then).

    Args:
        identity: The embedder (``litellm:openai/text-embedding-3-small``), for the error.
        locality: ``local`` embedders pass untouched.
        texts: What would be sent.

    Raises:
        PrivacyViolation: The texts may not leave this machine.
    """
    if locality != "hosted":
        return
    scope = _SCOPE.get()
    if scope is not None and scope.sensitive:
        raise PrivacyViolation([identity], scope.kinds or ["flag"])
    policy = (scope.policy if scope is not None else None) or _default_policy()
    found = policy.scan("\n".join(texts))
    if found:
        kinds = list(dict.fromkeys(f.kind for f in found))
        if scope is not None:
            scope.mark(kinds)
        raise PrivacyViolation([identity], kinds)


_POLICY: list[PrivacyPolicy] = []


def _default_policy() -> PrivacyPolicy:
    if not _POLICY:
        _POLICY.append(PrivacyPolicy())
    return _POLICY[0]
