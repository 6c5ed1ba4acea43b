"""Where and how the Estimator runs: a tf.estimator.RunConfig built from gin.

Per-step logging of TensorFlow's own (loss every 100 steps, global_step/sec) is off: the
progress hook in hooks.py reports at a time cadence instead. A distribution strategy or a
TF_CONFIG cluster is read by RunConfig itself.
"""

import gin
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from finetune.errors import FinetuneError

MIRRORED_UNSUPPORTED = (
    "run_config.distribution = 'mirrored' cannot be used with hub.Module: a TF1 Hub module "
    "creates its variables by importing its graph, outside tf.distribute's variable "
    "creators, so MirroredStrategy cannot mirror them (it fails in the optimizer with "
    "'colocate_vars_with must only be passed a variable created in this "
    "tf.distribute.Strategy.scope()'). Use one GPU per process and a TF_CONFIG cluster "
    "(chief and workers with a GPU each, parameter servers) instead; see the README.")


@gin.configurable("run_config", denylist=["model_dir"])
def make_run_config(model_dir,
                    random_seed=None,
                    save_checkpoints_steps=None,
                    save_checkpoints_secs=None,
                    keep_checkpoint_max=3,
                    save_summary_steps=100,
                    intra_op_threads=0,
                    inter_op_threads=0,
                    distribution=None,
                    mixed_precision=False,
                    save_graph_def=False):
  """Builds the RunConfig.

  Args:
    random_seed: graph-level seed (initializers, dropout, shuffling) for repeatable runs.
    save_checkpoints_steps / save_checkpoints_secs: checkpoint cadence; each new checkpoint
      triggers an evaluation in train_and_evaluate. Default: every 600 seconds.
    keep_checkpoint_max: how many recent checkpoints are kept.
    save_summary_steps: TensorBoard summary cadence.
    intra_op_threads / inter_op_threads: TensorFlow thread pools (0: one per core).
    distribution: None: one device per process, or the parameter-server cluster that
      TF_CONFIG describes. "mirrored" is refused with the reason (MIRRORED_UNSUPPORTED).
    mixed_precision: let TensorFlow's graph rewrite run eligible ops in float16 on GPUs;
      the module's own dtypes are unchanged. No loss scaling is added (gradients small
      enough to underflow in float16 are lost), and it has not been run on a GPU here.
    save_graph_def: also write graph.pbtxt and a .meta graph with every checkpoint. Off:
      nothing here reads them (restores rebuild the graph, TensorBoard takes the graph from
      the event file), and writing the text graph costs a noticeable part of start-up.
  """
  if distribution == "mirrored":
    raise FinetuneError(MIRRORED_UNSUPPORTED)
  if distribution is not None:
    raise FinetuneError(f"run_config.distribution = {distribution!r} is unknown; leave it "
                        "None (a TF_CONFIG cluster needs no setting here).")
  if save_checkpoints_steps is None and save_checkpoints_secs is None:
    save_checkpoints_secs = 600
  session_config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra_op_threads,
                                            inter_op_parallelism_threads=inter_op_threads,
                                            allow_soft_placement=True)
  if mixed_precision:
    session_config.graph_options.rewrite_options.auto_mixed_precision = (
        rewriter_config_pb2.RewriterConfig.ON)
  return tf.estimator.RunConfig(model_dir=model_dir,
                                tf_random_seed=random_seed,
                                save_checkpoints_steps=save_checkpoints_steps,
                                save_checkpoints_secs=save_checkpoints_secs,
                                keep_checkpoint_max=keep_checkpoint_max,
                                save_summary_steps=save_summary_steps,
                                session_config=session_config,
                                log_step_count_steps=None,
                                checkpoint_save_graph_def=save_graph_def)
