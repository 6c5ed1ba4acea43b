"""RunConfig from gin: cadence, threads, seed, mixed precision, and the refused distribution."""

import gin
import pytest
from tensorflow.core.protobuf import rewriter_config_pb2

from finetune.runtime.run_config import RunSettings
from finetune.errors import FinetuneError


def test_run_config_from_gin():
  gin.parse_config([
      "run_config.random_seed = 7", "run_config.save_checkpoints_steps = 50",
      "run_config.keep_checkpoint_max = 9", "run_config.intra_op_threads = 2",
      "run_config.inter_op_threads = 1", "run_config.mixed_precision = True"
  ])
  config = RunSettings().estimator_config("/tmp/model")
  assert config.tf_random_seed == 7 and config.save_checkpoints_steps == 50
  assert config.keep_checkpoint_max == 9 and config.log_step_count_steps is None
  session = config.session_config
  assert session.intra_op_parallelism_threads == 2
  assert session.inter_op_parallelism_threads == 1
  assert (session.graph_options.rewrite_options.auto_mixed_precision ==
          rewriter_config_pb2.RewriterConfig.ON)


def test_mirrored_strategy_is_refused_with_the_reason():
  gin.parse_config(["run_config.distribution = 'mirrored'"])
  with pytest.raises(FinetuneError, match="cannot be used with hub.Module: .*TF_CONFIG"):
    RunSettings()


@pytest.mark.parametrize("binding, message", [
    ("run_config.save_checkpoints_steps = 0", "save_checkpoints_steps must be a positive integer"),
    ("run_config.keep_checkpoint_max = 'many'", "keep_checkpoint_max must be a positive integer"),
    ("run_config.distribution = 'multi'", "distribution = 'multi' is unknown"),
])
def test_wrong_values_are_refused_by_name(binding, message):
  gin.parse_config([binding])
  with pytest.raises(FinetuneError, match=message):
    RunSettings()


def test_arithmetic_optimizer_is_off_by_default_and_recorded():
  """Its embedding-lookup rewrite copies a whole table every sparse training step."""
  off = RunSettings().session_config().graph_options.rewrite_options
  assert off.arithmetic_optimization == rewriter_config_pb2.RewriterConfig.OFF
  assert "run_config.arithmetic_optimization = False" in gin.operative_config_str()
  gin.parse_config(["run_config.arithmetic_optimization = True"])
  on = RunSettings().session_config().graph_options.rewrite_options
  assert on.arithmetic_optimization == rewriter_config_pb2.RewriterConfig.DEFAULT
