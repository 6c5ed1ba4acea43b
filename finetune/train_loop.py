"""Several training steps per session.run: an in-graph loop over stacked batches.

On small, fast steps (a few milliseconds on a CPU) the host's work around each
session.run (fetch handling, the Estimator's hooks) costs several percent of the step.
`experiment.steps_per_run = K` amortizes it the way TPUEstimator's iterations_per_loop and
Keras' steps_per_execution do: the training input yields K batches at once ([K, batch, ...])
and the TRAIN graph runs K full updates in a tf.while_loop. Each iteration is a whole step:
the module is applied to its own batch, the head, the regularization losses (re-read from
the variables every iteration) and the batch-norm updates are built inside the loop, the
global step advances by one, and the last run stops exactly at train_steps. Variable names
are the same as with K = 1, so a run can resume with a different K.

What changes with K > 1: hooks see one run per K steps (checkpoint and summary cadences
round up to a multiple of K), the loss that hooks and summaries see is that of the last
step of each run, and there are no gradient-norm and task-loss summaries.
"""

import contextlib

import tensorflow as tf

from finetune import heads as heads_lib
from finetune.errors import FinetuneError
from finetune.optimization import learning_rate_schedule

TRAIN = tf.estimator.ModeKeys.TRAIN
_VARIABLE_OPS = ("VarHandleOp", "VariableV2", "Variable")


def check_steps_per_run(steps_per_run):
  if not isinstance(steps_per_run, int) or isinstance(steps_per_run, bool) or steps_per_run < 1:
    raise FinetuneError(f"experiment.steps_per_run must be a positive integer, got "
                        f"{steps_per_run!r}.")


def stacked_input_fn(data, split, steps_per_run):
  """The training input_fn with K full batches stacked into one element: [K, batch, ...]."""
  input_fn = data.input_fn(split, training=True, drop_remainder=True)

  def stacked():
    batches = input_fn().batch(steps_per_run, drop_remainder=True)
    return batches.prefetch(tf.data.AUTOTUNE)

  return stacked


@contextlib.contextmanager
def _v1_control_flow():
  """hub.Module can be applied inside a TF1 while loop (it enters its state into the loop's
  context) but not inside the function body of TF2's While op, so the loop is built with
  TF1 control flow; the previous setting is restored afterwards."""
  was_v2 = tf.compat.v1.control_flow_v2_enabled()
  tf.compat.v1.disable_control_flow_v2()
  try:
    yield
  finally:
    if was_v2:
      tf.compat.v1.enable_control_flow_v2()


def rebuild_here(tensors):
  """Recreates `tensors` (functions of variables and constants, such as a hub module's
  regularization losses, which hub builds outside any loop) in the current control-flow
  context, so that inside the loop they read each iteration's variable values."""
  if not tensors:
    return []
  graph = tf.compat.v1.get_default_graph()
  subgraph = tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(),
                                                       [t.op.name for t in tensors])
  variables = {
      f"{node.name}:0": graph.get_tensor_by_name(f"{node.name}:0")
      for node in subgraph.node
      if node.op in _VARIABLE_OPS
  }
  return tf.graph_util.import_graph_def(subgraph,
                                        input_map=variables,
                                        return_elements=[t.name for t in tensors],
                                        name="regularization")


def train_spec(module, head, head_logits, train_op, features, labels, train_steps, steps_per_run):
  """The TRAIN EstimatorSpec whose train op runs up to `steps_per_run` steps in a loop.

  Args:
    module: the HubModule.
    head: the tf.estimator head (its `loss` is used; metrics are for evaluation).
    head_logits: fn(module outputs, logits_dimension, training) -> logits.
    train_op: fn(loss, global_step, train_steps, module_scope, summarize) -> update op.
    features, labels: K stacked batches from `stacked_input_fn`.
    train_steps: the run stops there exactly, even mid-K.
    steps_per_run: K.
  """
  global_step = tf.compat.v1.train.get_or_create_global_step()
  hub_module = module.instantiate(TRAIN)
  loop_head, to_ids = heads_lib.split_vocabulary(head)
  module_losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  # The last run may do fewer steps, so that training ends at train_steps exactly.
  steps = tf.cast(tf.clip_by_value(train_steps - global_step.read_value(), 0, steps_per_run),
                  tf.int32)

  def step(i, unused_loss):
    losses_before = len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES))
    updates_before = len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
    batch = {name: value[i] for name, value in features.items()}
    outputs = module.apply(hub_module, batch, TRAIN)
    logits = head_logits(outputs, head.logits_dimension, training=True)
    head_losses = tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)[losses_before:]
    regularization = list(rebuild_here(module_losses)) + head_losses
    loss = loop_head.loss(labels=to_ids(heads_lib.adapt_labels(head, labels[i])),
                     logits=logits,
                     features=batch,
                     mode=TRAIN,
                     regularization_losses=regularization or None)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)[updates_before:]
    with tf.control_dependencies(update_ops):
      update = train_op(loss, global_step, train_steps, module.name, summarize=False)
    with tf.control_dependencies([update]):
      return i + 1, tf.identity(loss)

  def body(i, loss):
    # An absolute name scope: optimizer variables get the names they have with K = 1.
    with tf.compat.v1.name_scope("training/"):
      return step(i, loss)

  with _v1_control_flow():
    # One iteration at a time: each step reads the weights the previous one wrote.
    _, loss = tf.compat.v1.while_loop(lambda i, _: i < steps,
                                      body, [tf.constant(0), tf.constant(0.0)],
                                      parallel_iterations=1,
                                      back_prop=False)
  with tf.control_dependencies([loss]):
    step_after = global_step.read_value()
  tf.compat.v1.summary.scalar("loss", loss)
  tf.compat.v1.summary.scalar("learning_rate", learning_rate_schedule(global_step, train_steps))
  return tf.estimator.EstimatorSpec(TRAIN,
                                    loss=loss,
                                    train_op=tf.group(loss),
                                    training_hooks=[StopAtTrainSteps(step_after, train_steps)])


class StopAtTrainSteps(tf.compat.v1.train.SessionRunHook):
  """Stops once a run ends at train_steps. The Estimator's StopAtStepHook assumes one step
  per run (it adds 1 to the step read alongside the run) and would allow one run more."""

  def __init__(self, step_after_run, train_steps):
    self._step_after_run = step_after_run
    self._train_steps = train_steps

  def before_run(self, run_context):
    return tf.compat.v1.train.SessionRunArgs(self._step_after_run)

  def after_run(self, run_context, run_values):
    if run_values.results >= self._train_steps:
      run_context.request_stop()
