"""Recipes are validated before any work starts, with errors naming the file and the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fusionsdk.errors import ConfigError

from fusionsdk_mergekit import RecipeError, load_recipe, parse_recipe


@pytest.fixture
def models(tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with ./base, ./a and ./b, as relative paths in recipes expect."""
    for name, folder in tiny_models.items():
        (tmp_path / name).symlink_to(folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_of(text: str) -> RecipeError:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, name="merge.yaml")
    return caught.value


SLERP = (
    "merge_method: slerp\nbase_model: ./a\nmodels:\n  - model: ./a\n  - model: {b}\nparameters:\n  t: 0.5\n"
)
TIES = (
    "merge_method: ties\nbase_model: ./base\nmodels:\n"
    "  - model: ./a\n    parameters: {{weight: 0.5, density: {density}}}\n"
    "  - model: ./b\n    parameters: {{weight: 0.5}}\nparameters:\n  density: 0.5\n"
)


def test_a_valid_recipe_is_summarised(models: Path) -> None:
    recipe = parse_recipe(SLERP.format(b="./b") + "dtype: float32\n", name="merge.yaml")
    assert recipe.method == "slerp"
    assert recipe.models == ("./a", "./b")
    assert recipe.architecture == "LlamaForCausalLM"
    assert recipe.summary()["base_model"] == "./a"


def test_every_required_method_is_accepted(models: Path) -> None:
    weights = "\n".join(f"  - model: ./{m}\n    parameters: {{weight: 0.5, density: 0.6}}" for m in "ab")
    for method in ("linear", "task_arithmetic", "ties", "dare_ties", "dare_linear"):
        base = "" if method == "linear" else "base_model: ./base\n"
        models_block = (
            weights.replace(", density: 0.6", "") if method in ("linear", "task_arithmetic") else weights
        )
        assert parse_recipe(f"merge_method: {method}\n{base}models:\n{models_block}\n").method == method


def test_missing_model_directory_names_the_field(models: Path) -> None:
    err = error_of(SLERP.format(b="./nope"))
    assert str(err) == "merge.yaml: models[1].model: directory not found: ./nope"
    assert err.path == "models[1].model" and err.recipe == "merge.yaml"
    assert isinstance(err, ConfigError)


def test_hub_ids_get_a_download_hint(models: Path) -> None:
    assert "hf download mistralai/Mistral-7B-v0.1 --local-dir" in str(
        error_of(SLERP.format(b="mistralai/Mistral-7B-v0.1"))
    )


def test_a_directory_without_config_or_weights(models: Path) -> None:
    (models / "empty").mkdir()
    assert "no config.json in ./empty" in str(error_of(SLERP.format(b="./empty")))
    (models / "empty" / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    assert "no weights (*.safetensors" in str(error_of(SLERP.format(b="./empty")))


def test_incompatible_shapes_and_architectures(models: Path) -> None:
    wide = models / "wide"
    shutil.copytree(models / "b", wide)
    config = json.loads((wide / "config.json").read_text())
    (wide / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    err = error_of(SLERP.format(b="./wide"))
    assert err.path == "models[1].model"
    assert "hidden_size is 64 here but 32 in base_model (./a)" in str(err)
    (wide / "config.json").write_text(json.dumps({**config, "architectures": ["MistralForCausalLM"]}))
    assert "architecture MistralForCausalLM differs from LlamaForCausalLM" in str(
        error_of(SLERP.format(b="./wide"))
    )


def test_unknown_method_lists_the_known_ones(models: Path) -> None:
    err = error_of(SLERP.format(b="./b").replace("slerp", "slurp"))
    assert err.path == "merge_method"
    assert "unknown merge method 'slurp'" in str(err) and "dare_ties" in str(err)


def test_missing_and_unknown_parameters(models: Path) -> None:
    err = error_of(SLERP.format(b="./b").replace("  t: 0.5\n", "  density: 0.5\n"))
    assert err.path == "parameters.density" and "has no parameter 'density' (it takes: t)" in str(err)
    err = error_of(SLERP.format(b="./b").replace("parameters:\n  t: 0.5\n", ""))
    assert err.path == "parameters.t" and "needs the parameter 't'" in str(err)
    err = error_of(
        "merge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1}\n  - model: ./b\n"
    )
    assert err.path == "models[1].parameters.weight"


def test_parameter_values_are_checked(models: Path) -> None:
    err = error_of(TIES.format(density=1.5))
    assert err.path == "models[0].parameters.density" and "fraction in [0, 1]" in str(err)
    err = error_of(SLERP.format(b="./b").replace("t: 0.5", "t: [0.1, fast]"))
    assert err.path == "parameters.t[1]"


def test_method_contract_base_and_input_count(models: Path) -> None:
    err = error_of(SLERP.format(b="./b").replace("base_model: ./a\n", ""))
    assert err.path == "base_model" and "requires a base input" in str(err)
    three = SLERP.format(b="./b").replace("  - model: ./b\n", "  - model: ./b\n  - model: ./base\n")
    assert "exactly 2 inputs" in str(error_of(three))


def test_mergekit_schema_errors_and_bad_yaml(models: Path) -> None:
    assert error_of("models: []\n").path == "merge_method"
    assert "Exactly one of 'models', 'slices', or 'modules'" in str(error_of("merge_method: linear\n"))
    assert "not valid YAML" in str(error_of("merge_method: [linear\n"))
    assert "a recipe is a YAML mapping" in str(error_of("- linear\n"))
    assert error_of(SLERP.format(b="./b") + "dtype: float8\n").path == "dtype"
    assert error_of(SLERP.format(b="./b") + "dtyp: float32\n").path == "dtyp"
    err = error_of(
        SLERP.format(b="./b").replace("  - model: ./b\n", "  - model: ./b\n    parameter: {t: 1}\n")
    )
    assert err.path == "models[1].parameter" and "unknown field" in str(err)


def test_load_recipe_reads_the_file(models: Path) -> None:
    file = models / "merge.yaml"
    file.write_text(SLERP.format(b="./b"))
    assert load_recipe(file).source == file.read_text()
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(models / "missing.yaml")
