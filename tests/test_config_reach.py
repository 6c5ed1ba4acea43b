"""A command-line binding on a configurable the config never builds is refused, naming the
parameter that would build it: gin would bind it and nothing would read it (issue 22)."""

import pytest

from finetune import config
from finetune.errors import FinetuneError
from tests import helpers


@pytest.mark.parametrize("bindings, message", [
    (["multi_class_head.n_classes = 3"],
     r"multi_class_head.n_classes is set, but the config builds no multi_class_head.* Set "
     r"experiment.head = @multi_class_head\(\) to use it"),
    (["tpu_runtime.iterations_per_loop = 5"],
     r"config builds no tpu_runtime.* Set experiment.runtime = @tpu_runtime\(\)"),
    (["early_stopping.patience_steps = 100"],
     r"config builds no early_stopping.* Set training.early_stopping = @early_stopping\(\)"),
    (["AdamWOptimizer.weight_decay = 0.01"],
     r"config builds no AdamWOptimizer.* Set optimization.optimizer = @AdamWOptimizer to"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]",
      "a/optimization.module_learning_rate_multiplier = 1.0"],
     r"a/optimization.module_learning_rate_multiplier is bound in scope 'a', but nothing built "
     r"in that scope builds optimization \(it builds hub_module\)"),
    # The module's download runs when the run checks the module, outside the module's scope.
    (["experiment.module = @text/hub_module()", "text/download.timeout_secs = 5.0"],
     r"text/download.timeout_secs is bound in scope 'text', but nothing built in that scope "
     r"builds download"),
    (["learning_rate_schedule.warmup_steps = 0\nmulti_class_head.n_classes = 3"],
     r"config builds no multi_class_head"),  # a second line in one --gin_bindings value
    (["experiment.module = [@a/hub_module(), @b/hub_module()]",
      "b/hub_module.learning_rate_multiplier = '0.1'"],
     r"^b/hub_module.learning_rate_multiplier = '0.1' is a string; it takes a number or None"),
])
def test_binding_on_a_configurable_never_built_is_refused(bindings, message):
  with pytest.raises(FinetuneError, match=message):
    config.parse(["digits/finetune.gin"], bindings)


@pytest.mark.parametrize("bindings", [
    ["experiment.head = @multi_class_head()", "multi_class_head.n_classes = 2"],
    ["experiment.runtime = @tpu_runtime()", "tpu_runtime.iterations_per_loop = 5"],
    ["training.early_stopping = @early_stopping()", "early_stopping.patience_steps = 100"],
    ["optimization.optimizer = @AdamWOptimizer", "AdamWOptimizer.weight_decay = 0.01"],
    ["learning_rate_schedule.warmup_steps = 0", "run_config.random_seed = 1",
     "download.timeout_secs = 5.0", "head_network.dropout = 0.0"],
    ["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.handle = 'x'"],
    ["experiment.training = @t/training()", "t/optimization.clip_gradient_norm = 1.0",
     "t/learning_rate_schedule.warmup_steps = 0"],  # built inside the scope, by code too
])
def test_bindings_on_what_the_config_builds_pass(bindings):
  config.parse(["digits/finetune.gin"], bindings)


def test_bindings_in_config_files_may_configure_what_a_variant_swapped_out(tmp_path):
  """A variant file that swaps the head leaves its included file's head bindings behind."""
  variant = tmp_path / "variant.gin"
  variant.write_text("include 'digits/finetune.gin'\nexperiment.head = @regression_head()\n")
  config.parse([str(variant)], [])


def test_a_sweep_grid_on_a_configurable_never_built_is_refused_before_any_trial(tmp_path):
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
                             "--grid=tpu_runtime.iterations_per_loop=[5, 10]", check=False)
  assert result.returncode == 2, result.stdout + result.stderr
  assert "config builds no tpu_runtime" in result.stderr
  assert "Traceback" not in result.stderr and not (tmp_path / "trials").exists()
