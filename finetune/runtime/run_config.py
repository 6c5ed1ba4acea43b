"""Where and how the Estimator runs: the `run_config` settings, turned into a RunConfig.

Per-step logging of TensorFlow's own (loss every 100 steps, global_step/sec) is off: the
progress hook reports at a time cadence instead. A TF_CONFIG cluster is read by RunConfig.
"""

from typing import Optional

import gin
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from finetune import checks
from finetune.errors import FinetuneError

MIRRORED_UNSUPPORTED = (
    "run_config.distribution = 'mirrored' cannot be used with hub.Module: a TF1 Hub module "
    "creates its variables by importing its graph, outside tf.distribute's variable "
    "creators, so MirroredStrategy cannot mirror them (it fails in the optimizer with "
    "'colocate_vars_with must only be passed a variable created in this "
    "tf.distribute.Strategy.scope()'). For synchronous training on the GPUs of one host set "
    "run_config.num_replicas = N (in-graph replicas); across hosts use a TF_CONFIG cluster; "
    "see the README.")


@gin.configurable("run_config")
class RunSettings:
  """Checkpoints, summaries, threads, seed and device options of a run.

  Args:
    random_seed: graph-level seed (initializers, dropout, shuffling) for repeatable runs.
    save_checkpoints_steps, save_checkpoints_secs: checkpoint cadence; each new checkpoint
      triggers an evaluation in train_and_evaluate. Default: every 600 seconds.
    keep_checkpoint_max: how many recent checkpoints are kept.
    save_summary_steps: TensorBoard summary cadence.
    intra_op_threads, inter_op_threads: TensorFlow thread pools (0: one per core).
    distribution: None: one device per process, or the parameter-server cluster that
      TF_CONFIG describes. "mirrored" is refused with the reason (MIRRORED_UNSUPPORTED).
    mixed_precision: let TensorFlow's graph rewrite run eligible ops in float16 on GPUs;
      the module's own dtypes are unchanged. No loss scaling is added, and it has not been
      run on a GPU here.
    save_graph_def: also write graph.pbtxt and a .meta graph with every checkpoint. Off:
      nothing here reads them, and writing the text graph costs part of start-up.
    num_replicas: synchronous in-graph replicas of the module and head in this host
      (training/replicas.py): GPUs when the host has that many, else CPU devices. The batch
      size stays global; each replica gets batch_size / num_replicas.
    variables_device: where the variables live with num_replicas > 1 (e.g. "/cpu:0", or
      "/device:GPU:0" when they fit there).
    arithmetic_optimization: Grappler's arithmetic optimizer; None: off only for a trained
      module with sparse embedding lookups (modules/graph_ops.py), on otherwise. Its
      embedding-lookup rewrite reads the whole table every step while the same step
      scatters into it: a full copy of the table per step (52x slower measured on a
      102M-parameter module). Off costs the dense workloads measured nothing, but a BERT
      graph's evaluation crashed TensorFlow 2.15 with it off, so it stays on elsewhere.
  """

  def __init__(self,
               random_seed: Optional[int] = None,
               save_checkpoints_steps: Optional[int] = None,
               save_checkpoints_secs: Optional[int] = None,
               keep_checkpoint_max: int = 3,
               save_summary_steps: int = 100,
               intra_op_threads: int = 0,
               inter_op_threads: int = 0,
               distribution: Optional[str] = None,
               mixed_precision: bool = False,
               save_graph_def: bool = False,
               num_replicas: int = 1,
               variables_device: str = "/cpu:0",
               arithmetic_optimization: Optional[bool] = None):
    self.num_replicas = checks.positive_int(num_replicas, "run_config.num_replicas")
    self.variables_device = variables_device
    if distribution == "mirrored":
      raise FinetuneError(MIRRORED_UNSUPPORTED)
    if distribution is not None:
      raise FinetuneError(f"run_config.distribution = {distribution!r} is unknown; leave it "
                          "None (a TF_CONFIG cluster needs no setting here).")
    checks.positive_int(save_checkpoints_steps, "run_config.save_checkpoints_steps", True)
    checks.positive_int(save_checkpoints_secs, "run_config.save_checkpoints_secs", True)
    if save_checkpoints_steps is not None and save_checkpoints_secs is not None:
      raise FinetuneError(
          f"run_config.save_checkpoints_steps = {save_checkpoints_steps} and "
          f"save_checkpoints_secs = {save_checkpoints_secs} are both set, and TensorFlow takes "
          "one: set the other to None (the shipped base config sets save_checkpoints_steps).")
    if save_checkpoints_steps is None and save_checkpoints_secs is None:
      save_checkpoints_secs = 600
    self.random_seed = random_seed
    self.save_checkpoints_steps = save_checkpoints_steps
    self.save_checkpoints_secs = save_checkpoints_secs
    self.keep_checkpoint_max = checks.positive_int(keep_checkpoint_max,
                                                   "run_config.keep_checkpoint_max")
    self.save_summary_steps = checks.positive_int(save_summary_steps,
                                                  "run_config.save_summary_steps")
    self.intra_op_threads, self.inter_op_threads = [
        0 if n == 0 else checks.positive_int(n, f"run_config.{name}")
        for n, name in ((intra_op_threads, "intra_op_threads"),
                        (inter_op_threads, "inter_op_threads"))]
    self.mixed_precision = checks.boolean(mixed_precision, "run_config.mixed_precision")
    self.save_graph_def = checks.boolean(save_graph_def, "run_config.save_graph_def")
    self.arithmetic_optimization = checks.boolean(arithmetic_optimization,
                                                  "run_config.arithmetic_optimization",
                                                  allow_none=True)

  def session_config(self, sparse_lookups=False):
    """The session's ConfigProto; `sparse_lookups`: the trained module has sparse embedding
    lookups (decides arithmetic_optimization = None)."""
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=int(self.intra_op_threads),
                                      inter_op_parallelism_threads=int(self.inter_op_threads),
                                      allow_soft_placement=True)
    if self.num_replicas > 1 and not tf.config.list_physical_devices("GPU"):
      config.device_count["CPU"] = self.num_replicas  # one CPU device per replica
    arithmetic = self.arithmetic_optimization
    if arithmetic is False or (arithmetic is None and sparse_lookups):
      config.graph_options.rewrite_options.arithmetic_optimization = (
          rewriter_config_pb2.RewriterConfig.OFF)
    if self.mixed_precision:
      config.graph_options.rewrite_options.auto_mixed_precision = (
          rewriter_config_pb2.RewriterConfig.ON)
    return config

  def estimator_config(self, model_dir, sparse_lookups=False, config_class=None, **extra):
    """The RunConfig for `model_dir` (`sparse_lookups`: see session_config): a
    tf.estimator.RunConfig, or `config_class` (TPUEstimator's RunConfig) with its `extra`
    arguments (cluster, tpu_config) beside the same settings."""
    config_class = config_class or tf.estimator.RunConfig
    return config_class(model_dir=model_dir,
                        tf_random_seed=self.random_seed,
                        save_checkpoints_steps=self.save_checkpoints_steps,
                        save_checkpoints_secs=(None if self.save_checkpoints_steps else
                                               self.save_checkpoints_secs),
                        keep_checkpoint_max=self.keep_checkpoint_max,
                        save_summary_steps=self.save_summary_steps,
                        session_config=self.session_config(sparse_lookups),
                        log_step_count_steps=None,
                        checkpoint_save_graph_def=self.save_graph_def,
                        **extra)
