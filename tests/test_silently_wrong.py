"""Values that would be silently wrong are refused: a boolean takes True or False only (gin
passes a quoted 'no' through as a string, which Python takes as true, so
`hub_module.trainable = 'no'` would fine-tune the module), an empty model_dir is no
model_dir, and a macro nothing reads is a typo."""

import pytest

from finetune import FinetuneError
from finetune import api


@pytest.mark.parametrize("binding", [
    "hub_module.trainable = 'no'",
    "hub_module.trusted = 'yes'",
    "csv_data.cache = 0",
    "run_config.mixed_precision = 'False'",
    "run_config.save_graph_def = 1",
    "run_config.arithmetic_optimization = 'off'",
    "evaluation.best_export_higher_is_better = 'no'",
])
def test_a_boolean_given_as_anything_else_is_refused_by_name(tmp_path, digits_module, binding):
  parameter = binding.split(" =")[0]
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", binding],
              model_dir=str(tmp_path / "run"))
  assert f"{parameter.split('.')[-1]}" in str(raised.value)
  assert "must be True or False" in str(raised.value)
  assert not (tmp_path / "run").exists()


def test_an_empty_model_dir_is_refused_not_taken_as_the_default(tmp_path, monkeypatch):
  """`--model_dir=$UNSET_VARIABLE` must not resume runs/<config> of the working directory."""
  monkeypatch.chdir(tmp_path)
  for empty in ("", "  "):
    with pytest.raises(FinetuneError, match="model_dir is empty"):
      api.train(["digits/finetune.gin"], [], model_dir=empty)
  assert not (tmp_path / "runs").exists()


def test_a_macro_that_nothing_reads_is_named_with_the_closest_read_one(tmp_path, digits_module):
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEP = 10"],
              model_dir=str(tmp_path / "run"))
  assert "Macro TRAIN_STEP is set but nothing in the config reads it" in str(raised.value)
  assert "did you mean TRAIN_STEPS?" in str(raised.value)
  assert not (tmp_path / "run").exists()
