"""Render chat messages as one prompt string for completion-style backends."""

from __future__ import annotations

from fusionsdk.providers.base import Message

__all__ = ["render_transcript"]


def render_transcript(messages: list[Message]) -> str:
    """A single user message is sent as it is; a conversation becomes a plain transcript
    ending in ``Assistant:``, which instruction-tuned and base models both continue sensibly."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return str(messages[0]["content"])
    lines = [f"{m['role'].capitalize()}: {m.get('content') or ''}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"
