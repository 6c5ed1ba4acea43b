"""Several training steps per session.run: an in-graph loop over the input iterator.

On small, fast steps (a few milliseconds on a CPU) the host's work around each
session.run (fetch handling, the Estimator's hooks) costs several percent of the step.
`training.steps_per_run = K` amortizes it the way TPUEstimator's iterations_per_loop and
Keras' steps_per_execution do: the TRAIN graph runs K full updates in a tf.while_loop, each
taking the next batch from the input iterator. Each iteration is a whole step:
the module is applied to its own batch, the head, the regularization losses (re-read from
the variables every iteration) and the batch-norm updates are built inside the loop, the
global step advances by one, and the last run stops exactly at train_steps. Variable names
are the same as with K = 1, so a run can resume with a different K.

What changes with K > 1: the first run of a session does one step, later ones end on
multiples of K; hooks see one run per K steps (checkpoint and summary cadences round up to
a multiple of K), the loss that hooks and summaries see is that of the last
step of each run, and there are no gradient-norm and task-loss summaries. The NaN check
looks at each step's task loss (the regularized sum is computed on the last step only).
"""

import contextlib

import tensorflow as tf

from finetune.modules import graph_ops
from finetune.modules import tf2_module

TRAIN = tf.estimator.ModeKeys.TRAIN
ITERATOR_COLLECTION = "finetune_train_iterator"  # the input_fn's iterator, for the loop body


def iterator_input_fn(data, split):
  """The training input_fn for the loop: each loop iteration takes its own batch.

  The iterator goes to the model_fn through a graph collection (the Estimator passes only
  features and labels), and the loop body calls get_next once per step; the Estimator gets
  no features. Batches are never stacked, so memory is that of K = 1.
  """
  input_fn = data.input_fn(split, training=True, drop_remainder=True)

  def fn():
    # Initializable, not one-shot: a one-shot iterator cannot capture stateful ops such as
    # tensorflow_text's SentencepieceTokenizer; the loop's hook initializes it.
    iterator = tf.compat.v1.data.make_initializable_iterator(input_fn())
    tf.compat.v1.add_to_collection(ITERATOR_COLLECTION, iterator)
    return {}, None

  return fn


@contextlib.contextmanager
def _v1_control_flow():
  """hub.Module can be applied inside a TF1 while loop (it enters its state into the loop's
  context) but not inside the function body of TF2's While op, so the loop is built with
  TF1 control flow; the previous setting is restored afterwards. TensorFlow keeps this
  switch process-wide, with no per-graph form; graph building here is single-threaded."""
  was_v2 = tf.compat.v1.control_flow_v2_enabled()
  tf.compat.v1.disable_control_flow_v2()
  try:
    yield
  finally:
    if was_v2:
      tf.compat.v1.enable_control_flow_v2()


def rebuilder(tensors):
  """Returns fn() that recreates `tensors` (functions of variables and constants, such as a
  hub module's regularization losses, which hub builds outside any loop) in the control-flow
  context it is called in, so that inside the loop they read each iteration's values.

  A TF2 SavedModel's loss is recreated by calling its restored function again (its gradient
  is then the function's own); the others are copied with import_graph_def."""
  graph = tf.compat.v1.get_default_graph()
  functions = tf2_module.loss_functions(graph)
  called = [functions[t.name] for t in tensors if t.name in functions]
  copied = [t for t in tensors if t.name not in functions]
  copy = _copier(copied, graph)
  return lambda: [function() for function in called] + copy()


def _copier(tensors, graph):
  """fn() -> copies of `tensors` made with import_graph_def where it is called."""
  if not tensors:
    return lambda: []
  subgraph = tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(),
                                                       [t.op.name for t in tensors])
  variables = {
      f"{node.name}:0": graph.get_tensor_by_name(f"{node.name}:0")
      for node in subgraph.node
      if node.op in graph_ops.VARIABLE_OPS
  }
  return lambda: tf.graph_util.import_graph_def(subgraph,
                                                input_map=variables,
                                                return_elements=[t.name for t in tensors],
                                                name="regularization")


def _steps_this_run(global_step, train_steps, steps_per_run):
  """How many steps the next run does: the first run of a session does one step, so start-up
  (and the first report of hooks) is as quick as with K = 1; later runs end on multiples of K
  (so checkpoint and summary cadences that are multiples of K fall on their steps), the last
  one at train_steps. Returns (steps, op marking the first run done)."""
  first_run = tf.compat.v1.get_local_variable("first_run_of_session",
                                              initializer=True,
                                              trainable=False)
  step_before = global_step.read_value()
  to_boundary = steps_per_run - step_before % steps_per_run
  first_limit = tf.where(first_run.read_value(), tf.constant(1, tf.int64), steps_per_run)
  steps = tf.clip_by_value(tf.minimum(train_steps - step_before, to_boundary), 0, first_limit)
  return tf.cast(steps, tf.int32), first_run


def _step_fn(model, iterator, steps, global_step):
  """The loop body: one whole training step on the iterator's next batch."""
  head, train_steps = model.head, model.training.train_steps
  hub_module = model.instantiate(TRAIN)
  loop_head, to_ids = head.split_vocabulary()
  module_losses = rebuilder(
      tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES))

  def step(i):
    losses_before = len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES))
    updates_before = len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
    batch, labels = iterator.get_next()
    logits = model.forward(hub_module, batch, TRAIN)
    head_losses = tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)[losses_before:]
    task_loss = loop_head.loss(labels=to_ids(head.adapt_labels(labels)),
                               logits=logits,
                               features=batch,
                               mode=TRAIN)
    total = lambda: tf.add_n([task_loss] + list(module_losses()) + head_losses)
    # The gradients need the regularizers' inputs, not their values: the summed loss is
    # only evaluated on the run's last step, the one hooks and summaries report.
    last = tf.logical_or(i + 1 >= steps, global_step.read_value() + 1 >= train_steps)
    reported = tf.cond(last, total, lambda: task_loss)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)[updates_before:]
    with tf.control_dependencies(update_ops + [reported]):  # reported: before the update
      update = model.train_op(total(), global_step, guard_loss=task_loss, summarize=False)
    with tf.control_dependencies([update]):
      return i + 1, tf.identity(reported)

  return step


def train_spec(model):
  """The TRAIN EstimatorSpec whose train op runs up to `steps_per_run` steps in a loop.

  Args:
    model: the Model (module, head, head network, training settings, runtime).
  """
  train_steps = model.training.train_steps
  global_step = tf.compat.v1.train.get_or_create_global_step()
  (iterator,) = tf.compat.v1.get_collection(ITERATOR_COLLECTION)
  steps, first_run = _steps_this_run(global_step, train_steps, model.training.steps_per_run)
  step = _step_fn(model, iterator, steps, global_step)

  def body(i, unused_loss):
    # An absolute name scope: optimizer variables get the names they have with K = 1.
    with tf.compat.v1.name_scope("training/"):
      return step(i)

  def more(i, unused_loss):
    # The global step is read again before each step: in an asynchronous cluster other
    # workers advance it too, and the run must not train past train_steps on their account.
    return tf.logical_and(i < steps, global_step.read_value() < train_steps)

  with _v1_control_flow():
    # One iteration at a time: each step reads the weights the previous one wrote.
    _, loss = tf.compat.v1.while_loop(more,
                                      body, [tf.constant(0), tf.constant(0.0)],
                                      parallel_iterations=1,
                                      back_prop=False)
  with tf.control_dependencies([loss]):
    step_after = global_step.read_value()
    done_first = first_run.assign(False, read_value=False)
  tf.compat.v1.summary.scalar("loss", loss)
  tf.compat.v1.summary.scalar("learning_rate",
                              model.training.optimization.learning_rate(step_after, train_steps))
  return tf.estimator.EstimatorSpec(TRAIN,
                                    loss=loss,
                                    train_op=tf.group(loss, done_first),
                                    training_hooks=[
                                        StopAtTrainSteps(step_after, train_steps),
                                        InitializeIterator(iterator)
                                    ])


class InitializeIterator(tf.compat.v1.train.SessionRunHook):
  """Initializes the loop's input iterator in every new session (as the Estimator does for
  the iterators it makes itself)."""

  def __init__(self, iterator):
    self._initializer = iterator.initializer

  def after_create_session(self, session, coord):
    session.run(self._initializer)


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
