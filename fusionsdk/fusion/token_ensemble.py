"""``token_ensemble``: local models write one answer together, token by token.

At every step each model proposes the texts of its top-k next tokens; the union of those texts
is scored by every model in its own vocabulary and the weighted mean picks the continuation
(UniTE, Yao et al. 2024, "Determine-Then-Ensemble"), which is appended to every model's context
in its own tokens. Models with different tokenizers (SmolLM2's BPE, Gemma's SentencePiece) so
align on text, not on token ids. The strategy generates the answer itself: it needs no panel
before it, only models whose next-token distributions are at hand (embedded llama.cpp models),
read through :meth:`Model.token_scorer <fusionsdk.providers.model.Model.token_scorer>`.

Example::

    nodes:
      fuse:
        kind: fuse
        strategy: token_ensemble
        options: {models: [smollm2, gemma3], weights: {gemma3: 2}, max_tokens: 32}
    edges: [[START, fuse], [fuse, END]]
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from fusionsdk.errors import ConfigError
from fusionsdk.fusion._token_session import TokenSession
from fusionsdk.fusion._token_union import (
    END,
    Proposal,
    StopGate,
    choose,
    end_of_answer,
    score_candidates,
    start_key,
)
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.base import Message, TokenScorer

if TYPE_CHECKING:
    from fusionsdk.providers.model import Model

__all__ = ["TokenEnsemble"]

_FINISHED = object()


@dataclass
class _Outcome:
    """What the generation loop produced."""

    text: str = ""
    steps: int = 0
    finish: str = "length"
    agreed: Counter[str] = field(default_factory=Counter)
    usage: dict[str, int] = field(default_factory=dict)


class TokenEnsemble(Fuser):
    """Generate the answer with several embedded llama.cpp models at once, token by token.

    Candidates from earlier nodes are not used: the models answer the task themselves. The
    result has no single winner; ``scores`` gives, per model, the share of steps where its own
    likeliest token was the ensemble's choice. Deterministic with ``temperature`` 0 (the
    default) or a ``seed``.
    """

    needs_candidates: ClassVar[bool] = False

    class Options(PluginOptions):
        """Options of token_ensemble.

        Attributes:
            models: Names of graph models with provider ``llamacpp`` (two or more for an
                ensemble; one gives that model's own greedy answer).
            weights: Weight of each model in the vote, by name (1.0 when not given).
            top_k: How many next tokens each model proposes per step.
            max_tokens: Most steps (about one token each).
            stop: Stop sequences; by default the models' own (completion models' defaults and
                chat formats' end markers).
            temperature: 0 picks the best continuation; above 0 draws among the candidates.
            seed: Seed of the draw when ``temperature`` is above 0.
            system: A system message for the models.
        """

        models: list[str] = Field(min_length=1)
        weights: dict[str, float] = Field(default_factory=dict)
        top_k: int = Field(10, ge=1, le=200)
        max_tokens: int = Field(64, gt=0)
        stop: list[str] | None = None
        temperature: float = Field(0.0, ge=0, le=2)
        seed: int | None = None
        system: str | None = None

        @model_validator(mode="after")
        def _check_models_and_weights(self) -> TokenEnsemble.Options:
            repeated = sorted({m for m in self.models if self.models.count(m) > 1})
            if repeated:
                raise ValueError(f"model '{repeated[0]}' is listed twice in models")
            for name, weight in self.weights.items():
                if name not in self.models:
                    raise ValueError(f"weights names '{name}', which is not in models")
                if weight < 0:
                    raise ValueError(f"weight of '{name}' must be 0 or more, got {weight}")
            if not any(self.weights.get(m, 1.0) > 0 for m in self.models):
                raise ValueError("at least one model needs a weight above 0")
            return self

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Generate the answer to ``task``, streaming its text through ``context.emit``.

        Raises:
            ConfigError: A model is unknown or gives no token-level access (is not an embedded
                llama.cpp model).
            PrivacyViolation: A model is hosted and the request sensitive.
            ContextWindowExceeded: The prompt does not fit a model's context window.
        """
        context = context or FusionContext()
        opts: TokenEnsemble.Options = self.options  # type: ignore[assignment]
        models = [_scoring_model(context.models, name, i) for i, name in enumerate(opts.models)]
        messages: list[Message] = [{"role": "user", "content": task}]
        if opts.system:
            messages.insert(0, {"role": "system", "content": opts.system})
        metadata = dict(context.metadata)
        scorers = []
        for model in models:  # the adapter applies the privacy gate and loads the model
            scorers.append((model.name, await model.token_scorer(messages, metadata=metadata)))

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        worker = asyncio.ensure_future(asyncio.to_thread(self._generate, scorers, emit, cancel))
        worker.add_done_callback(lambda _: queue.put_nowait(_FINISHED))
        try:
            while (piece := await queue.get()) is not _FINISHED:
                context.emit(piece)
            outcome = await worker
        finally:
            cancel.set()  # a cancelled fuse stops generating at the next step and frees the models
            if not worker.done():
                with contextlib.suppress(Exception):
                    await asyncio.shield(worker)
        return self._result(outcome)

    def _generate(
        self,
        scorers: list[tuple[str, TokenScorer]],
        emit: Callable[[str], None],
        cancel: threading.Event,
    ) -> _Outcome:
        """Hold every model (in a fixed order) and run the loop (worker thread)."""
        opts: TokenEnsemble.Options = self.options  # type: ignore[assignment]
        # Two names for one model instance share it: hold it once. Held in a fixed order, so
        # two ensembles over the same models cannot deadlock.
        distinct = {scorer.shared: scorer for _, scorer in scorers}
        with contextlib.ExitStack() as stack:
            for shared in sorted(distinct):
                stack.enter_context(distinct[shared])
            sessions, stops = [], []
            for name, scorer in scorers:
                sessions.append(TokenSession(name, scorer, scorer.prompt, opts.weights.get(name, 1.0)))
                stops += [s for s in scorer.stops if s not in stops]
            gate = StopGate(stops if opts.stop is None else opts.stop)
            return _decode(sessions, gate, opts, emit, cancel)

    def _result(self, outcome: _Outcome) -> FusionResult:
        opts: TokenEnsemble.Options = self.options  # type: ignore[assignment]
        steps = max(outcome.steps, 1)
        scores = {name: outcome.agreed[name] / steps for name in opts.models}
        why = {"stop": "a stop", "length": "max_tokens", "cancelled": "cancellation"}[outcome.finish]
        return FusionResult(
            text=outcome.text,
            winner=opts.models[0] if len(opts.models) == 1 else None,
            scores=scores,
            reason=(
                f"token-level ensemble of {', '.join(opts.models)} (union of top-{opts.top_k}): "
                f"{outcome.steps} steps, ended by {why}"
            ),
            usage=outcome.usage,
        )


def _scoring_model(models: Mapping[str, Model], name: str, index: int) -> Model:
    """Model ``name``, which must give token-level access, or a ConfigError naming it."""
    path = f"options.models[{index}]"
    known = list(models)
    if name not in known:
        raise ConfigError(
            f"token_ensemble: unknown model '{name}' (known: {', '.join(sorted(known)) or 'none'})", path=path
        )
    model = models[name]
    if not model.scores_tokens:
        raise ConfigError(
            f"token_ensemble needs embedded llama.cpp models (provider: llamacpp), whose next-token "
            f"distributions it can read; model '{name}' uses provider '{model.spec.provider}'",
            path=path,
        )
    return model


def _decode(
    sessions: list[TokenSession],
    gate: StopGate,
    opts: TokenEnsemble.Options,
    emit: Callable[[str], None],
    cancel: threading.Event,
) -> _Outcome:
    """The ensemble loop: propose, score the union, choose, append, stream."""
    outcome = _Outcome()
    rng = random.Random(opts.seed)
    answer = ""
    while outcome.steps < opts.max_tokens:
        if cancel.is_set():
            outcome.finish = "cancelled"
            break
        if not all(s.has_room() for s in sessions):
            break  # a context window is full: as if max_tokens were reached
        at_start = not answer  # the answer never begins with whitespace: see start_key
        proposals = [s.propose(opts.top_k, at_start) for s in sessions]

        ends = functools.partial(gate.ends, answer)
        text = choose(score_candidates(proposals, ends, at_start), opts.temperature, rng)
        outcome.steps += 1
        for proposal in proposals:
            if _first_choice(proposal, ends, at_start) == text:
                outcome.agreed[proposal.model] += 1
        if text is END:
            outcome.finish = "stop"
            break
        if at_start and not text.strip():
            for session in sessions:  # leading whitespace: the models take it, the answer does not
                session.advance(text, at_start)
            continue
        answer += text
        if end_of_answer(answer, gate.stops) is not None:
            outcome.finish = "stop"
            break
        for session in sessions:
            session.advance(text, at_start)
        if piece := gate.release(answer):
            emit(piece)
    if piece := gate.release(answer, finished=True):
        emit(piece)
    outcome.text = gate.final(answer)
    prompt = sum(len(s.prompt) for s in sessions)
    completion = sum(len(s.answer) for s in sessions)
    outcome.usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return outcome


def _first_choice(proposal: Proposal, ends: Callable[[str], bool], at_start: bool) -> str | None:
    """The model's own likeliest continuation, keyed as the union keys it."""
    first = proposal.top[0][0] if proposal.top else END
    if first is None or ends(start_key(first) if at_start else first):
        return END
    return start_key(first) if at_start else first
