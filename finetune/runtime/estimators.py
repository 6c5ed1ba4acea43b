"""The runtime of CPU and GPU hosts and TF_CONFIG clusters: a plain tf.estimator.Estimator.

Configured as `experiment.runtime = @estimator_runtime()` (the default, in
configs/base/plumbing.gin); `tpu.py` holds the other runtime, and base.py what both offer.
"""

import gin
import tensorflow as tf

from finetune.outputs import exporters
from finetune.runtime.base import Runtime
from finetune.runtime.run_config import RunSettings


@gin.configurable("estimator_runtime")
class EstimatorRuntime(Runtime):
  """tf.estimator.Estimator on this host's devices, or a TF_CONFIG cluster.

  Args:
    run_config: a RunSettings (`@run_config()`): checkpoints, summaries, threads, seed.
  """

  name = "estimator_runtime"

  def __init__(self, run_config: RunSettings = gin.REQUIRED):
    super().__init__(run_config)

  def make_estimator(self, model_dir, model_fn, data, warm_start=None, sparse_lookups=False):
    config = self.run_config.estimator_config(model_dir, sparse_lookups)
    return tf.estimator.Estimator(model_fn,
                                  config=config,
                                  params={},
                                  warm_start_from=warm_start)

  def input_fn(self, data, split, training=None, drop_remainder=False):
    return data.input_fn(split, training=training, drop_remainder=drop_remainder)

  def create_spec(self, head, **kwargs):
    return head.create_estimator_spec(**kwargs)

  def hub_exporter(self, name, modules, serving_fn, exports_to_keep):
    """hub.LatestModuleExporter: rebuilds the PREDICT graph and exports every registered
    module; with a TF2 SavedModel among `modules` (hub's exporter knows only hub.Module), all
    are exported from the checkpoint, into the same timestamped folder."""
    if modules.is_tf2:
      return exporters.CheckpointModuleExporter(name, modules, exports_to_keep=exports_to_keep)
    return exporters.HubModuleExporter(name, serving_fn, exports_to_keep=exports_to_keep)
