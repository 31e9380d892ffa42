"""``fusionsdk merge`` on tiny models: the merged tensors follow each method's formula.

The references below are written from the papers, not from mergekit's code:
linear is a weighted average; SLERP interpolates each tensor along the great circle between the
two (flattened) tensors; TIES trims each task vector to its largest ``density`` share by
magnitude, elects a sign per entry from the weighted sum, and averages the agreeing entries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fusionsdk.cli.app import main
from safetensors.torch import load_file

from fusionsdk_mergekit import MergeError, merge_models, parse_recipe


def weights(folder: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def run_merge(tmp_path: Path, recipe: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict]:
    (tmp_path / "recipe.yaml").write_text(recipe)
    out = tmp_path / "out"
    assert main(["merge", str(tmp_path / "recipe.yaml"), "--out", str(out), "--json"]) == 0
    return out, json.loads(capsys.readouterr().out)


def slerp_reference(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    a, b = v0.double().flatten(), v1.double().flatten()
    cos = torch.dot(a / a.norm(), b / b.norm()).clamp(-1, 1)
    if cos.abs() > 0.9995:  # (nearly) parallel: the arc is a line
        return ((1 - t) * v0.double() + t * v1.double()).float()
    theta = torch.arccos(cos)
    mixed = (torch.sin((1 - t) * theta) * v0.double() + torch.sin(t * theta) * v1.double()) / torch.sin(theta)
    return mixed.float()


def ties_reference(
    base: torch.Tensor, tuned: list[torch.Tensor], weight: list[float], density: list[float]
) -> torch.Tensor:
    trimmed = []
    for tensor, d in zip(tuned, density, strict=True):
        delta = (tensor - base).double().flatten()
        keep = torch.zeros_like(delta)
        keep[delta.abs().argsort(descending=True)[: max(1, int(d * delta.numel()))]] = 1
        trimmed.append(delta * keep)
    weighted = torch.stack([w * t for w, t in zip(weight, trimmed, strict=True)])
    sign = torch.where(weighted.sum(0) >= 0, 1.0, -1.0)
    agree = (weighted.sign() == sign).double()
    counts = (torch.tensor(weight, dtype=torch.float64)[:, None] * agree).sum(0)
    merged = (weighted * agree).sum(0) / torch.where(counts == 0, 1.0, counts)
    return (base.double().flatten() + merged).reshape(base.shape).float()


def test_linear_is_the_weighted_average(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tiny_models["a"], tiny_models["b"]
    recipe = (
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 0.7}}\n"
        f"  - model: {b}\n    parameters: {{weight: 0.3}}\ndtype: float32\n"
    )
    out, summary = run_merge(tmp_path, recipe, capsys)
    wa, wb, merged = weights(a), weights(b), weights(out)
    assert summary["method"] == "linear" and summary["device"] == "cpu"
    assert summary["tensors"] == len(wa) == len(merged)
    for name, tensor in merged.items():
        torch.testing.assert_close(tensor, 0.7 * wa[name] + 0.3 * wb[name], rtol=1e-5, atol=1e-6)
    assert {"config.json", "tokenizer.json", "mergekit_config.yml"} <= {p.name for p in out.iterdir()}


def test_slerp_interpolates_each_tensor_on_the_sphere(
    tiny_models: dict[str, Path], slerp_model: Path
) -> None:
    wa, wb, merged = weights(tiny_models["a"]), weights(tiny_models["b"]), weights(slerp_model)
    curved = 0
    for name, tensor in merged.items():
        expected = slerp_reference(0.3, wa[name], wb[name])
        torch.testing.assert_close(tensor, expected, rtol=1e-4, atol=1e-5)
        linear = 0.7 * wa[name] + 0.3 * wb[name]
        curved += not torch.allclose(tensor, linear, rtol=1e-4, atol=1e-5)
    assert curved >= 10, "SLERP should differ from a straight average for the perturbed tensors"


def test_ties_trims_elects_signs_and_merges_disjointly(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, a, b = tiny_models["base"], tiny_models["a"], tiny_models["b"]
    recipe = (
        f"merge_method: ties\nbase_model: {base}\nmodels:\n"
        f"  - model: {a}\n    parameters: {{weight: 0.6, density: 0.5}}\n"
        f"  - model: {b}\n    parameters: {{weight: 0.4, density: 0.7}}\n"
        "parameters:\n  normalize: true\ndtype: float32\n"
    )
    out, _ = run_merge(tmp_path, recipe, capsys)
    w0, wa, wb, merged = weights(base), weights(a), weights(b), weights(out)
    for name, tensor in merged.items():
        expected = ties_reference(w0[name], [wa[name], wb[name]], [0.6, 0.4], [0.5, 0.7])
        torch.testing.assert_close(tensor, expected, rtol=1e-4, atol=1e-5)
    delta = merged["model.layers.0.mlp.up_proj.weight"] - w0["model.layers.0.mlp.up_proj.weight"]
    assert 0 < (delta == 0).float().mean() < 0.5  # entries both models trimmed keep the base value


def test_human_summary_and_guard_against_overwriting(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tiny_models["a"], tiny_models["b"]
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1}}\n"
        f"  - model: {b}\n    parameters: {{weight: 1}}\n"
    )
    out = tmp_path / "out"
    assert main(["merge", str(recipe), "--dry-run"]) == 0
    assert "valid (linear, 2 models, LlamaForCausalLM)" in capsys.readouterr().out and not out.exists()
    assert main(["merge", str(recipe)]) == 2
    assert "--out: give the directory" in capsys.readouterr().err
    assert main(["merge", str(recipe), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert (
        "merged 2 models with linear" in text
        and f"{{provider: transformers, options: {{path: {out}}}}}" in text
    )
    assert main(["merge", str(recipe), "--out", str(out)]) == 2
    assert "out: " in capsys.readouterr().err
    assert main(["merge", str(recipe), "--out", str(out), "--force", "--json"]) == 0


def test_errors_exit_non_zero_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "merge_method: slerp\nbase_model: ./a\nmodels:\n  - model: ./a\n  - model: ./b\n"
        "parameters: {t: 0.5}\n"
    )
    assert main(["merge", str(recipe), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {recipe}: base_model: directory not found: ./a"
    assert not (tmp_path / "out").exists()


def test_a_failed_merge_is_a_merge_error_and_leaves_nothing(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tiny_models["a"], tiny_models["b"]
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1}}\n"
        f"  - model: {b}\n    parameters: {{weight: 1}}\n"
    )

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("mergekit.merge.run_merge", broken)
    with pytest.raises(MergeError, match="RuntimeError: disk full"):
        merge_models(recipe, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_mergekit_progress_drives_a_rich_bar_and_is_restored(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import mergekit.graph
    import tqdm
    from rich.progress import Progress

    a, b = tiny_models["a"], tiny_models["b"]
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1}}\n"
        f"  - model: {b}\n    parameters: {{weight: 1}}\n"
    )
    progress = Progress(disable=True)
    merge_models(recipe, tmp_path / "out", progress=progress)
    tasks = {task.description: task for task in progress.tasks}
    assert tasks["executing graph"].finished and tasks["executing graph"].total > 10
    assert mergekit.graph.tqdm is tqdm
