"""The TPUEstimator runtime: the same model_fn, schedules and exports, on Cloud TPUs or, for
tests and debugging, with use_tpu=False on the CPU.

What it changes, each forced by TPUEstimator:
  * the head builds a TPUEstimatorSpec and the optimizers are wrapped in CrossShardOptimizer;
  * input_fns take `params["batch_size"]` (per core) and drop the last partial batch, so every
    batch has the static shape a TPU compiles for;
  * hub.LatestModuleExporter cannot rebuild a TPUEstimatorSpec graph (it has no scaffold), so
    the fine-tuned module is exported from the checkpoint with ModuleSpec.export;
  * on a TPU, the model_dir and the module cache must be on GCS: checked before anything starts.
What it refuses, by name: TF2 SavedModel handles (hub.KerasLayer, not adapted here),
training.steps_per_run > 1 (tpu_runtime.iterations_per_loop sets the steps per run here) and
the predict schedule (predict with the serving SavedModel).
"""

from typing import Optional

import gin
import tensorflow as tf
from tensorflow_hub import resolver

from finetune import checks
from finetune.errors import FinetuneError
from finetune.outputs import exporters
from finetune.runtime.base import Runtime
from finetune.runtime.run_config import RunSettings


@gin.configurable("tpu_runtime")
class TPURuntime(Runtime):
  """TPUEstimator.

  Args:
    run_config: a RunSettings (`@run_config()`).
    use_tpu: run on a Cloud TPU (False: the same path on the CPU).
    tpu: the TPU name or grpc:// address (TPUClusterResolver).
    zone, project: the TPU's GCP zone and project (TPUClusterResolver; default: from the
      environment).
    iterations_per_loop: training steps the TPU runs per host round trip.
    num_shards: TPU cores (default: all of the TPU).
    bfloat16: run the new head network in bfloat16 (the module keeps its own dtypes).
  """

  name = "tpu_runtime"
  per_position_heads = False  # token_tagging_head was not adapted to TPUEstimatorSpec

  def __init__(self,
               run_config: RunSettings = gin.REQUIRED,
               use_tpu: bool = False,
               tpu: Optional[str] = None,
               zone: Optional[str] = None,
               project: Optional[str] = None,
               iterations_per_loop: int = 100,
               num_shards: Optional[int] = None,
               bfloat16: bool = False):
    super().__init__(run_config)
    self.use_tpu = checks.boolean(use_tpu, "tpu_runtime.use_tpu")
    self.tpu, self.zone, self.project = tpu, zone, project
    self.iterations_per_loop = checks.positive_int(iterations_per_loop,
                                                   "tpu_runtime.iterations_per_loop")
    self.num_shards = checks.positive_int(num_shards, "tpu_runtime.num_shards", allow_none=True)
    self.bfloat16 = checks.boolean(bfloat16, "tpu_runtime.bfloat16")
    self.host_hooks = not self.use_tpu  # on a TPU, steps run in loops the host cannot see

  def check(self, schedule, training):
    if training.steps_per_run > 1:
      raise FinetuneError(
          f"training.steps_per_run = {training.steps_per_run} cannot be honoured by the TPU "
          "runtime: TPUEstimator runs tpu_runtime.iterations_per_loop steps per session.run "
          "itself. Set training.steps_per_run = 1 and tpu_runtime.iterations_per_loop.")
    if self.run_config.num_replicas > 1:
      raise FinetuneError("run_config.num_replicas is for the GPUs or CPUs of one host; on the "
                          "TPU runtime tpu_runtime.num_shards sets the cores.")
    if schedule == "predict":
      raise FinetuneError("The TPU runtime runs train, evaluate, export and train_and_evaluate; "
                          "predict with the serving SavedModel (export/serving/), or on a CPU "
                          "or GPU host with --gin_bindings='experiment.runtime = "
                          "@estimator_runtime()' (the checkpoint is the same).")
    if self.run_config.mixed_precision:
      raise FinetuneError("run_config.mixed_precision is the GPU float16 rewrite; on the TPU "
                          "runtime use tpu_runtime.bfloat16 = True instead.")

  def check_module(self, module):
    """TF2 SavedModels (hub.KerasLayer) are refused: this runtime was not adapted to them."""
    if module.is_tf2:
      raise FinetuneError(
          f"Module '{module.handle}' is a TF2 SavedModel, which tpu_runtime does not run "
          "(finetune calls it through hub.KerasLayer, not adapted to TPUEstimator); use "
          "experiment.runtime = @estimator_runtime(), or the module's TF1 Hub version.")

  def check_paths(self, model_dir, module):
    """TPU workers read checkpoints and modules from GCS only: refuse local paths up front
    (before the module is fetched)."""
    if not self.use_tpu:
      return
    if not str(model_dir).startswith("gs://"):
      raise FinetuneError(f"model_dir '{model_dir}' is local, but a Cloud TPU reads and writes "
                          "checkpoints on GCS: use --model_dir=gs://BUCKET/...")
    handle = str(module.handle)
    cache = resolver.tfhub_cache_dir(use_temp=True)
    if not handle.startswith("gs://") and not str(cache).startswith("gs://"):
      raise FinetuneError(
          f"Module '{handle}' would be cached in '{cache}', which the TPU workers cannot read. "
          "Set TFHUB_CACHE_DIR=gs://BUCKET/tfhub_cache, or give a gs:// module handle.")

  def make_estimator(self, model_dir, model_fn, data, warm_start=None, sparse_lookups=False):
    cluster = None
    if self.use_tpu:
      cluster = tf.distribute.cluster_resolver.TPUClusterResolver(self.tpu,
                                                                  zone=self.zone,
                                                                  project=self.project)
    config = self.run_config.estimator_config(
        model_dir,
        sparse_lookups,
        config_class=tf.compat.v1.estimator.tpu.RunConfig,
        cluster=cluster,
        tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(
            iterations_per_loop=self.iterations_per_loop, num_shards=self.num_shards))
    return tf.compat.v1.estimator.tpu.TPUEstimator(model_fn=model_fn,
                                                   config=config,
                                                   use_tpu=self.use_tpu,
                                                   train_batch_size=data.batch_size,
                                                   eval_batch_size=data.eval_batch_size,
                                                   predict_batch_size=data.eval_batch_size,
                                                   export_to_tpu=False,
                                                   warm_start_from=warm_start)

  def input_fn(self, data, split, training=None, drop_remainder=True):
    del drop_remainder  # a TPU compiles for one static batch shape: always dropped

    def input_fn(params):
      return data.input_fn(split, training=training, batch_size=params["batch_size"],
                           drop_remainder=True)()

    return input_fn

  def create_spec(self, head, **kwargs):
    # tf.estimator heads build TPU specs only through this method (their public
    # create_estimator_spec converts its result to a plain EstimatorSpec).
    return head._create_tpu_estimator_spec(**kwargs)  # pylint: disable=protected-access

  def build_head(self, build, inputs):
    if not self.bfloat16:
      return build(inputs)
    with tf.compat.v1.tpu.bfloat16_scope():
      logits = build(tf.cast(inputs, tf.bfloat16))
    return tf.cast(logits, tf.float32)

  def wrap_optimizer(self, optimizer):
    return tf.compat.v1.tpu.CrossShardOptimizer(optimizer) if self.use_tpu else optimizer

  def hub_exporter(self, name, modules, serving_fn, exports_to_keep):
    del serving_fn  # the module is exported from the checkpoint, not from a rebuilt graph
    return exporters.CheckpointModuleExporter(name, modules, exports_to_keep=exports_to_keep)
