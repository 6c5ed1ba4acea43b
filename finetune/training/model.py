"""The one model_fn: hub module -> head network -> tf.estimator head, in every mode and on
every runtime.

It collects state through TensorFlow's graph collections: REGULARIZATION_LOSSES (the module's
and the head network's) go into the training loss, UPDATE_OPS (the module's batch norm) run
with the train op. The head builds the spec, metrics and export outputs; the runtime adapts
what differs (a TPUEstimatorSpec, CrossShardOptimizer, bfloat16). With steps_per_run > 1 the
TRAIN graph is the in-graph loop of train_loop.py, built from the same pieces.
"""

import tensorflow as tf

from finetune.inputs import prediction_keys
from finetune.modules.module_set import ModuleSet
from finetune.outputs.progress import ProgressHook
from finetune.process import signals
from finetune.training import replicas
from finetune.training import train_loop
from finetune.training.loss_check import loss_check

TRAIN = tf.estimator.ModeKeys.TRAIN


class Model:
  """The pieces of the model, built into a spec by `model_fn` (an Estimator model_fn).

  Args:
    module: a HubModule, a list of them, or a ModuleSet.
    head: one of heads.py's heads.
    head_network: a HeadNetwork.
    training: the Training settings (steps, optimization, steps per run, progress cadence).
    runtime: a runtime (runtime/base.py).
    batch_size: the training batch size, to report examples per second.
  """

  def __init__(self, module, head, head_network, training, runtime, batch_size):
    self.module = module if isinstance(module, ModuleSet) else ModuleSet(module)
    self.head = head
    self.head_network = head_network
    self.training = training
    self.runtime = runtime
    self.batch_size = batch_size

  def model_fn(self, features, labels, mode, params, config):
    del params, config  # batch sizes reach the input_fn, not the model
    # An interruption's line says so; an export's own phase (it builds a graph too) wins.
    outer, _ = signals.current_phase()
    with signals.phase(outer or "building the graph"):
      return self._model_fn(features, labels, mode)

  def _model_fn(self, features, labels, mode):
    if mode == TRAIN and self.training.steps_per_run > 1:
      spec = train_loop.train_spec(self)
    else:
      features, keys = prediction_keys.split(features)  # a batch prediction's row keys
      spec = self.spec(features, labels, mode)
      if keys:
        spec = spec._replace(predictions=dict(spec.predictions, **keys))
    if mode != TRAIN or not self.runtime.host_hooks:
      return spec
    progress = ProgressHook(spec.loss, self.training.train_steps, self.batch_size,
                            self.training.progress_every_secs)
    return spec._replace(training_hooks=list(spec.training_hooks or []) + [progress])

  def logits(self, outputs, training):
    build = lambda inputs: self.head_network(inputs, self.head.logits_dimension, training)
    return self.runtime.build_head(build, outputs)

  def _replicas(self, mode):
    return self.runtime.replicas if mode == TRAIN else 1

  def instantiate(self, mode):
    """The hub modules' variables, on the variables' device when training with replicas."""
    if self._replicas(mode) == 1:
      return self.module.instantiate(mode)
    with tf.compat.v1.device(self.runtime.run_config.variables_device):
      return self.module.instantiate(mode)

  def forward(self, hub_module, features, mode):
    """Module and head network on `features` -> logits; in training, on each replica's shard
    when run_config.num_replicas > 1."""
    training = mode == TRAIN
    build = lambda shard, i=0: self.logits(self.module.apply(hub_module, shard, mode), training)
    count = self._replicas(mode)
    if count == 1:
      return build(features)
    return replicas.replicated(features, count, self.runtime.run_config.variables_device, build)

  def train_op(self, loss, global_step, guard_loss=None, summarize=None):
    """The update for `loss`; fails the step if `guard_loss` (default: loss) is not finite."""
    summarize = self.runtime.host_hooks if summarize is None else summarize
    return self.training.optimization.train_op(
        loss,
        global_step,
        self.training.train_steps,
        self.module.modules,
        wrap_optimizer=self.runtime.wrap_optimizer,
        guard=loss_check(loss if guard_loss is None else guard_loss, global_step),
        summarize=summarize)

  def spec(self, features, labels, mode):
    """The spec of one step per session.run, in any mode."""
    logits = self.forward(self.instantiate(mode), features, mode)
    # Under bfloat16 the head's regularizers are bfloat16: sum everything in float32.
    regularization = [
        tf.cast(loss, tf.float32) for loss in tf.compat.v1.losses.get_regularization_losses()
    ]
    global_step = tf.compat.v1.train.get_or_create_global_step()
    spec = self.runtime.create_spec(
        self.head,
        features=features,
        mode=mode,
        logits=logits,
        labels=self.head.adapt_labels(labels),
        train_op_fn=lambda loss: self.train_op(loss, global_step),
        update_ops=tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS),
        regularization_losses=regularization or None)
    if mode == TRAIN and self.runtime.host_hooks:
      total = tf.add_n(regularization) if regularization else tf.constant(0.0)
      tf.compat.v1.summary.scalar("task_loss", spec.loss - total)
    return spec
