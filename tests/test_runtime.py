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


def test_arithmetic_optimizer_is_off_where_it_copies_a_table_and_recorded():
  """Its embedding-lookup rewrite copies a whole table every sparse training step."""
  rewrites = lambda settings, sparse: settings.session_config(sparse).graph_options.rewrite_options
  toggle = rewriter_config_pb2.RewriterConfig
  auto = RunSettings()
  assert rewrites(auto, sparse=True).arithmetic_optimization == toggle.OFF
  assert rewrites(auto, sparse=False).arithmetic_optimization == toggle.DEFAULT
  assert "run_config.arithmetic_optimization = None" in gin.operative_config_str()
  gin.parse_config(["run_config.arithmetic_optimization = True"])
  assert rewrites(RunSettings(), sparse=True).arithmetic_optimization == toggle.DEFAULT
  gin.parse_config(["run_config.arithmetic_optimization = False"])
  assert rewrites(RunSettings(), sparse=False).arithmetic_optimization == toggle.OFF


def test_sparse_lookups_are_found_in_trained_text_modules_only(text_module, digits_module):
  from finetune.modules.hub_module import HubModule  # pylint: disable=g-import-not-at-top
  assert HubModule(handle=text_module).has_sparse_lookups()
  assert not HubModule(handle=text_module, trainable=False).has_sparse_lookups()
  assert not HubModule(handle=digits_module).has_sparse_lookups()
