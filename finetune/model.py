"""The generic model_fn: hub module -> dense stack -> tf.estimator head, in every mode.

One model_fn serves training, evaluation, prediction and both exports. It collects state
through TensorFlow's graph collections: REGULARIZATION_LOSSES (the module's and the head
network's) go into the training loss, UPDATE_OPS (the module's batch norm) run with the
train op. The head builds the EstimatorSpec, metrics and export outputs.
"""

import gin
import tensorflow as tf
from gin import tf as gin_tf

from finetune import faults
from finetune import heads as heads_lib
from finetune import hooks
from finetune import train_loop
from finetune.optimization import optimization

TRAIN = tf.estimator.ModeKeys.TRAIN


@gin.configurable("head_network")
def head_logits(inputs,
                logits_dimension,
                training,
                hidden_units=(),
                dropout=0.0,
                activation=tf.nn.relu,
                l2_regularization=0.0):
  """The new layers on top of the module: optional hidden layers with dropout, then logits.

  Args:
    hidden_units: sizes of hidden layers between the module output and the logits.
    dropout: dropout rate applied to the module output and after each hidden layer.
    activation: activation of the hidden layers.
    l2_regularization: L2 weight on the head's kernels (goes to REGULARIZATION_LOSSES).
  """
  regularizer = tf.keras.regularizers.l2(l2_regularization) if l2_regularization else None
  layers = tf.compat.v1.layers
  with tf.compat.v1.variable_scope("head"):
    net = layers.dropout(inputs, rate=dropout, training=training) if dropout else inputs
    for i, units in enumerate(hidden_units):
      net = layers.dense(net,
                         units,
                         activation=activation,
                         kernel_regularizer=regularizer,
                         name=f"hidden_{i}")
      if dropout:
        net = layers.dropout(net, rate=dropout, training=training)
    return layers.dense(net, logits_dimension, kernel_regularizer=regularizer, name="logits")


def train_op(loss, global_step, train_steps, module_scope, wrap_optimizer=None):
  """The update, guarded: a NaN or infinite loss fails the step's session.run, so no hook
  sees that step and no checkpoint is written from it."""
  return optimization(loss,
                      global_step,
                      train_steps,
                      module_scope,
                      wrap_optimizer=wrap_optimizer,
                      guard=faults.loss_check(loss, global_step))


def make_model_fn(module, head, train_steps, batch_size, progress_every_secs=10.0, steps_per_run=1):
  """Returns a model_fn for tf.estimator.Estimator.

  Args:
    module: a `hub_module.HubModule`.
    head: a tf.estimator head (see heads.py).
    train_steps: the max_steps of training (for learning-rate regimes and progress).
    batch_size: training batch size, to report examples per second.
    progress_every_secs: how often the progress line is logged while training.
    steps_per_run: training steps per session.run; above 1 the TRAIN graph is the loop of
      train_loop.py, which reads its batches from train_loop.iterator_input_fn.
  """

  def model_fn(features, labels, mode, config):
    if mode == TRAIN and steps_per_run > 1:
      spec = train_loop.train_spec(module, head, head_logits, train_steps, steps_per_run)
    else:
      spec = _spec(features, labels, mode)
    if mode != TRAIN:
      return spec
    progress = hooks.ProgressHook(spec.loss, train_steps, batch_size, progress_every_secs)
    chief_hooks = list(spec.training_chief_hooks)
    if config.model_dir:
      chief_hooks.append(gin_tf.GinConfigSaverHook(config.model_dir,
                                                   include_step_in_filename=False))
    return spec._replace(training_hooks=list(spec.training_hooks) + [progress],
                         training_chief_hooks=chief_hooks)

  def _spec(features, labels, mode):
    outputs = module(features, mode)
    logits = head_logits(outputs, head.logits_dimension, training=mode == TRAIN)
    regularization_losses = tf.compat.v1.losses.get_regularization_losses()
    global_step = tf.compat.v1.train.get_or_create_global_step()
    spec = head.create_estimator_spec(
        features=features,
        mode=mode,
        logits=logits,
        labels=heads_lib.adapt_labels(head, labels),
        train_op_fn=lambda loss: train_op(loss, global_step, train_steps, module.name),
        update_ops=tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS),
        regularization_losses=regularization_losses or None)
    if mode == TRAIN:
      regularization = (tf.add_n(regularization_losses)
                        if regularization_losses else tf.constant(0.0))
      tf.compat.v1.summary.scalar("task_loss", spec.loss - regularization)
    return spec

  return model_fn
