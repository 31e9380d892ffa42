"""``fusionsdk ask MODEL PROMPT``: one completion from one model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli._common import CONFIG_OPTION, JSON_OPTION, open_hub, print_json, stdout
from fusionsdk.cli.base import Command

__all__ = ["AskCommand"]


def ask(
    model: str = typer.Argument(..., help="Model name from the config (smollm2 or gemma3 without one)."),
    prompt: str = typer.Argument(..., help="The prompt."),
    config: Path | None = CONFIG_OPTION,
    stream: bool = typer.Option(False, "--stream", help="Print the answer as it is generated."),
    as_json: bool = JSON_OPTION,
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Output token limit."),
    temperature: float | None = typer.Option(None, "--temperature", min=0, max=2),
    logprobs: bool = typer.Option(False, "--logprobs", help="Ask for token log-probabilities."),
) -> None:
    """Ask MODEL a question and print the answer.

    With --json, print one object with text, model, usage, cost_usd and latency_s; with --stream
    and --json, one JSON line per piece of text and a last line with the whole result.
    """
    hub = open_hub(config)
    target = hub[model]
    params: dict[str, Any] = {"logprobs": logprobs}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if temperature is not None:
        params["temperature"] = temperature
    if not stream:
        completion = target.complete(prompt, **params)
        if as_json:
            print_json(completion.as_dict())
        else:
            stdout.print(completion.text, markup=False)
        return
    for chunk in target.stream(prompt, **params):
        if chunk.completion is not None:
            if as_json:
                print_json({"type": "completion", **chunk.completion.as_dict()})
            else:
                typer.echo("")
        elif chunk.discard:
            if as_json:
                typer.echo(json.dumps({"type": "discard", "failed": chunk.failed}))
            else:
                typer.echo(f"\n[{chunk.failed} failed; the answer starts again]", err=True)
        elif as_json:
            typer.echo(json.dumps({"type": "delta", "text": chunk.text}, ensure_ascii=False))
        else:
            typer.echo(chunk.text, nl=False)


class AskCommand(Command):
    """``fusionsdk ask``: one completion from one model."""

    def build(self) -> Any:
        return ask
