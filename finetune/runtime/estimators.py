"""The runtime of CPU and GPU hosts and TF_CONFIG clusters: a plain tf.estimator.Estimator.

A runtime is what differs between the places a run can go; the model_fn, the schedules and
the exports are the same everywhere. It builds the Estimator, adapts input_fns and the
EstimatorSpec, and names what it cannot honour. `tpu.py` holds the other runtime, TPUEstimator,
with the same methods. Configured as `experiment.runtime = @estimator_runtime()` (the
default, in configs/base/plumbing.gin) or `@tpu_runtime()`.
"""

import gin
import tensorflow as tf

from finetune.outputs import exporters


@gin.configurable("estimator_runtime")
class EstimatorRuntime:
  """tf.estimator.Estimator on this host's devices, or a TF_CONFIG cluster.

  Args:
    run_config: a RunSettings (`@run_config()`): checkpoints, summaries, threads, seed.
  """

  name = "estimator_runtime"
  host_hooks = True  # training hooks run on this host between steps

  def __init__(self, run_config=gin.REQUIRED):
    self.run_config = run_config

  @property
  def replicas(self):
    """How many in-graph replicas train (run_config.num_replicas)."""
    return self.run_config.num_replicas

  def check(self, schedule, training):
    """Refuses, by name, a setting this runtime cannot honour. Nothing here."""

  def check_module(self, module):
    """Refuses, by name, a module this runtime cannot run. Nothing here."""

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

  def build_head(self, build, inputs):
    """Calls build(inputs) -> logits; the TPU runtime may do it in bfloat16."""
    return build(inputs)

  def wrap_optimizer(self, optimizer):
    return optimizer

  def hub_exporter(self, name, module, serving_fn, exports_to_keep):
    """hub.LatestModuleExporter: rebuilds the PREDICT graph and exports the registered module;
    a TF2 SavedModel (which hub's exporter does not know) is exported from the checkpoint."""
    if module.is_tf2:
      return exporters.CheckpointModuleExporter(name, module, exports_to_keep=exports_to_keep)
    return exporters.HubModuleExporter(name, serving_fn, exports_to_keep=exports_to_keep)
