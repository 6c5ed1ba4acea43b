"""The TPUEstimator path: the same module, head and train op, on Cloud TPUs or, for tests and
debugging, with use_tpu=False on the CPU.

Differences from the Estimator path, each forced by TPUEstimator:
  * the head builds a TPUEstimatorSpec (its `_create_tpu_estimator_spec`, which its public
    create_estimator_spec wraps), and the optimizers are wrapped in CrossShardOptimizer;
  * input_fns take `params["batch_size"]` (per core) and drop the last partial batch, so
    every batch has the static shape a TPU compiles for;
  * hub.LatestModuleExporter cannot export from a TPUEstimatorSpec, so the fine-tuned module
    is exported from the checkpoint with ModuleSpec.export(checkpoint_path=...), and the
    serving SavedModel is a CPU graph (export_to_tpu=False);
  * on a TPU, the model_dir and the module cache must be on GCS, where the TPU workers can
    read them: checked before anything starts.
"""

import os
import time

import gin
import tensorflow as tf
from tensorflow_hub import resolver

from finetune import data as data_lib
from finetune import exporters as exporters_lib
from finetune import faults
from finetune import heads as heads_lib
from finetune import hooks
from finetune import model as model_lib
from finetune.errors import FinetuneError
from finetune.runtime import make_run_config


@gin.configurable("tpu")
class TPUSettings:
  """Settings of the TPUEstimator path.

  Args:
    enabled: train with TPUEstimator (with use_tpu=False it runs on the CPU).
    use_tpu: run on a Cloud TPU.
    tpu: the TPU name or grpc:// address (TPUClusterResolver); zone and project likewise.
    iterations_per_loop: training steps the TPU runs per host round trip.
    num_shards: TPU cores (default: all of the TPU).
    bfloat16: run the new head network in bfloat16 (the module keeps its own dtypes).
  """

  def __init__(self,
               enabled=False,
               use_tpu=False,
               tpu=None,
               zone=None,
               project=None,
               iterations_per_loop=100,
               num_shards=None,
               bfloat16=False):
    self.enabled = enabled
    self.use_tpu = use_tpu
    self.tpu, self.zone, self.project = tpu, zone, project
    self.iterations_per_loop = iterations_per_loop
    self.num_shards = num_shards
    self.bfloat16 = bfloat16


def check_paths_for_tpu(settings, model_dir, module):
  """TPU workers read checkpoints and modules from GCS only: refuse local paths up front."""
  if not settings.use_tpu:
    return
  if not str(model_dir).startswith("gs://"):
    raise FinetuneError(f"model_dir '{model_dir}' is local, but a Cloud TPU reads and writes "
                        "checkpoints on GCS: use --model_dir=gs://BUCKET/...")
  handle = str(module.handle)
  if handle.startswith("gs://"):
    return
  cache = resolver.tfhub_cache_dir(use_temp=True)
  if not str(cache).startswith("gs://"):
    raise FinetuneError(
        f"Module '{handle}' would be cached in '{cache}', which the TPU workers cannot read. "
        "Set TFHUB_CACHE_DIR=gs://BUCKET/tfhub_cache, or give a gs:// module handle.")


def make_model_fn(module, head, train_steps, batch_size, settings):
  """A TPUEstimator model_fn with the same pieces as model.make_model_fn."""

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    training = mode == tf.estimator.ModeKeys.TRAIN
    outputs = module(features, mode)
    if settings.bfloat16:
      with tf.compat.v1.tpu.bfloat16_scope():
        logits = model_lib.head_logits(tf.cast(outputs, tf.bfloat16),
                                       head.logits_dimension,
                                       training=training)
      logits = tf.cast(logits, tf.float32)
    else:
      logits = model_lib.head_logits(outputs, head.logits_dimension, training=training)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    wrap = tf.compat.v1.tpu.CrossShardOptimizer if settings.use_tpu else None
    # Under bfloat16 the head's own regularizers are bfloat16: sum everything in float32.
    regularization = [
        tf.cast(loss, tf.float32) for loss in tf.compat.v1.losses.get_regularization_losses()
    ]
    spec = head._create_tpu_estimator_spec(  # pylint: disable=protected-access
        features=features,
        mode=mode,
        logits=logits,
        labels=heads_lib.adapt_labels(head, labels),
        train_op_fn=lambda loss: model_lib.train_op(
            loss, global_step, train_steps, module.name, wrap_optimizer=wrap),
        update_ops=tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS),
        regularization_losses=regularization or None)
    if training and not settings.use_tpu:  # host-side hooks only make sense off the TPU
      spec = spec._replace(training_hooks=list(spec.training_hooks or []) +
                           [hooks.ProgressHook(spec.loss, train_steps, batch_size)])
    return spec

  return model_fn


def make_estimator(model_dir, module, data, head, train_steps, settings):
  base = make_run_config(model_dir)
  cluster = None
  if settings.use_tpu:
    cluster = tf.distribute.cluster_resolver.TPUClusterResolver(settings.tpu,
                                                                zone=settings.zone,
                                                                project=settings.project)
  config = tf.compat.v1.estimator.tpu.RunConfig(
      cluster=cluster,
      model_dir=model_dir,
      tf_random_seed=base.tf_random_seed,
      save_checkpoints_steps=base.save_checkpoints_steps or settings.iterations_per_loop,
      keep_checkpoint_max=base.keep_checkpoint_max,
      session_config=base.session_config,
      tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(
          iterations_per_loop=settings.iterations_per_loop, num_shards=settings.num_shards))
  return tf.compat.v1.estimator.tpu.TPUEstimator(model_fn=make_model_fn(
      module, head, train_steps, data.batch_size, settings),
                                                 config=config,
                                                 use_tpu=settings.use_tpu,
                                                 train_batch_size=data.batch_size,
                                                 eval_batch_size=data.eval_batch_size,
                                                 predict_batch_size=data.eval_batch_size,
                                                 export_to_tpu=False)


def _input_fn(data, split):

  def input_fn(params):
    return data.input_fn(split, batch_size=params["batch_size"], drop_remainder=True)()

  return input_fn


def export_module_from_checkpoint(module, checkpoint, model_dir):
  """Writes export/hub/<timestamp>/<name>/ from a checkpoint, whole or not at all."""
  base = os.path.join(model_dir, "export", "hub")
  stamp = str(int(time.time()))
  final = os.path.join(base, stamp)
  temp = os.path.join(base, "temp-" + stamp)
  module.spec.export(os.path.join(temp, module.export_name),
                     checkpoint_path=checkpoint,
                     name_transform_fn=lambda name: f"{module.name}/{name}")
  tf.io.gfile.rename(temp, final)
  return os.path.join(final, module.export_name)


def run(model_dir, schedule, module, data, head, train_steps, eval_steps, settings):
  """Runs `schedule` on the TPUEstimator path; returns what experiment.run returns."""
  check_paths_for_tpu(settings, model_dir, module)
  estimator = make_estimator(model_dir, module, data, head, train_steps, settings)
  if schedule in ("train", "train_and_evaluate"):
    estimator.train(_input_fn(data, data_lib.TRAIN),
                    max_steps=train_steps,
                    hooks=[faults.PreemptionHook()])
    if schedule == "train":
      return None
  if schedule in ("evaluate", "train_and_evaluate"):
    result = estimator.evaluate(_input_fn(data, data_lib.EVAL), steps=eval_steps)
    exporters_lib.report_metrics(model_dir, result)
    if schedule == "evaluate":
      return exporters_lib.jsonable(result)
  checkpoint = estimator.latest_checkpoint()
  if checkpoint is None:
    raise FinetuneError(f"No checkpoint in '{model_dir}' to export; train first.")
  hub_path = export_module_from_checkpoint(module, checkpoint, model_dir)
  serving = estimator.export_saved_model(os.path.join(model_dir, "export", "serving"),
                                         data.serving_input_receiver_fn(),
                                         checkpoint_path=checkpoint)
  exporters_lib.log.info("Fine-tuned module exported to %s; serving SavedModel to %s", hub_path,
                         serving.decode() if isinstance(serving, bytes) else serving)
  if schedule == "export":
    return {"hub": hub_path, "serving": serving}
  return exporters_lib.jsonable(result)
