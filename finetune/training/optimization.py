"""How the weights move: the optimizer, the module's own rate, freezing and clipping.

`optimization` is one gin object, built once and passed to the training settings. Each
pretrained module gets its own optimizer instance at its learning-rate multiplier times the
head's rate (`hub_module.learning_rate_multiplier`, by default `module_learning_rate_multiplier`):
scaling the rate rather than the gradient keeps the multiplier meaningful for adaptive
optimizers (Adam ignores a constant gradient scale).

The modules are passed in as objects with `name` (their variable scope), `selector` (how the
config calls them), `learning_rate_multiplier` (None: the default) and `freeze_variables`
(regexes on names inside the scope): HubModules.
"""

import inspect
from typing import Callable, Optional, Sequence, Union

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError
from finetune.training.learning_rates import LearningRateSchedule


@gin.configurable("optimization")
class Optimization:
  """The optimizer and what it may touch.

  Args:
    learning_rate: a LearningRateSchedule (`@learning_rate_schedule()`), or a number: the
      base rate of learning_rate_schedule's warm-up and decay.
    optimizer: a tf.compat.v1.train optimizer class, called with learning_rate= and name=.
    module_learning_rate_multiplier: the pretrained module's rate relative to the head's
      (e.g. 0.1); 0 keeps the module fixed while batch-norm statistics still update.
    freeze_variables: regexes; matching variables are not trained.
    clip_gradient_norm: clip all gradients together to this global norm.
  """

  def __init__(self,
               learning_rate: Optional[Union[float, LearningRateSchedule]] = None,
               optimizer: Callable = tf.compat.v1.train.AdamOptimizer,
               module_learning_rate_multiplier: float = 1.0,
               freeze_variables: Sequence[str] = (),
               clip_gradient_norm: Optional[float] = None):
    if isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool):
      # A number is the base rate of learning_rate_schedule's regime (warm-up, decay).
      learning_rate = LearningRateSchedule(
          base_learning_rate=checks.positive_number(learning_rate, "optimization.learning_rate"))
    self.learning_rate = learning_rate or LearningRateSchedule()
    self.optimizer = optimizer
    self.module_learning_rate_multiplier = checks.non_negative_number(
        module_learning_rate_multiplier, "optimization.module_learning_rate_multiplier")
    if not (inspect.isclass(optimizer) and issubclass(optimizer, tf.compat.v1.train.Optimizer)):
      raise FinetuneError(f"optimization.optimizer must be a tf.compat.v1.train optimizer class, "
                          f"e.g. @tf.train.AdamOptimizer or @AdamWOptimizer; got {optimizer!r}.")
    self.freeze_variables = [checks.regex(p, "optimization.freeze_variables entry")
                             for p in freeze_variables]
    if clip_gradient_norm is not None:
      checks.positive_number(clip_gradient_norm, "optimization.clip_gradient_norm")
    self.clip_gradient_norm = clip_gradient_norm

  def check(self, train_steps):
    self.learning_rate.check(train_steps)

  def trainable_variables(self, modules=()):
    """TRAINABLE_VARIABLES minus those matching any regex in `freeze_variables`, and those of
    a module matching one of the module's own patterns."""
    variables = tf.compat.v1.trainable_variables()
    rules = [(p, "", "optimization.freeze_variables", lambda v: True)
             for p in self.freeze_variables]
    for module in modules:
      prefix = module.name + "/"
      rules += [(p, prefix, f"{module.selector}.freeze_variables",
                 lambda v, prefix=prefix: v.op.name.startswith(prefix))
                for p in module.freeze_variables]
    frozen = lambda v, rule: rule[3](v) and rule[0].search(v.op.name[len(rule[1]):])
    for rule in rules:
      if not any(frozen(v, rule) for v in variables):
        candidates = [v.op.name[len(rule[1]):] for v in variables if rule[3](v)]
        raise FinetuneError(f"{rule[2]} pattern '{rule[0].pattern}' matches no trainable "
                            f"variable; some are: {', '.join(candidates[:20]) or 'none'}.")
    return [v for v in variables if not any(frozen(v, rule) for rule in rules)]

  def gradients(self, loss, modules=()):
    """[(gradient, variable)] of the trainable, unfrozen variables that get a gradient."""
    variables = self.trainable_variables(modules)
    # Colocated: with replicas, each shard's backward pass runs on the shard's device.
    grads = tf.compat.v1.gradients(loss, variables, colocate_gradients_with_ops=True)
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if not pairs:
      raise FinetuneError("No trainable variable receives a gradient; check "
                          "optimization.freeze_variables and hub_module.trainable.")
    return pairs

  def clip(self, pairs, summarize=True):
    """Clips by global norm if asked; the norm is summarized when `summarize`.

    A sparse gradient (an embedding's IndexedSlices) stays sparse. For the norm its rows are
    summed per index first, so the norm is that of the dense gradient; without clipping,
    that happens only in the summary's ops, which run at summary steps only.
    """
    if not (summarize or self.clip_gradient_norm):
      return pairs
    grads, variables = zip(*pairs)
    summed = [_summed_rows(g) for g in grads]
    norm = tf.linalg.global_norm(summed)
    if summarize:
      tf.compat.v1.summary.scalar("gradient_norm", norm)
    if self.clip_gradient_norm:
      grads, _ = tf.clip_by_global_norm(summed, self.clip_gradient_norm, use_norm=norm)
    return list(zip(grads, variables))

  def multiplier(self, module):
    """A module's learning rate relative to the head's."""
    own = module.learning_rate_multiplier
    return self.module_learning_rate_multiplier if own is None else own

  def apply(self, pairs, learning_rate, modules, wrap_optimizer=None):
    """The update ops: one optimizer when every rate is the head's, else one for the head and
    one per module (`module_optimizer` for a model's one module, `<name>_optimizer` for each of
    several; none for a module whose multiplier is 0)."""
    rates = [(module.name, self.multiplier(module)) for module in modules]
    if all(rate == 1.0 for _, rate in rates):
      groups = [("optimizer", pairs, learning_rate)]  # one optimizer: fewer ops per step
    else:
      owner = lambda v: next((n for n, _ in rates if v.op.name.startswith(n + "/")), None)
      groups = [("head_optimizer", [(g, v) for g, v in pairs if owner(v) is None], learning_rate)]
      for name, rate in rates:
        if rate:
          # One module keeps the name it always had, whatever its scope: old slots restore.
          label = "module_optimizer" if len(rates) == 1 else f"{name}_optimizer"
          groups.append((label, [(g, v) for g, v in pairs if owner(v) == name],
                         learning_rate * rate))
    updates = []
    for name, part, rate in groups:
      if part:
        instance = self.optimizer(learning_rate=rate, name=name)
        if wrap_optimizer:
          instance = wrap_optimizer(instance)
        updates.append(instance.apply_gradients(part))
    return updates

  def train_op(self,
               loss,
               global_step,
               train_steps,
               modules,
               wrap_optimizer=None,
               guard=None,
               summarize=True):
    """Builds the train op (without UPDATE_OPS: the head adds those).

    Args:
      loss: the total (task + regularization) loss.
      global_step, train_steps: for the learning-rate schedule.
      modules: the pretrained modules (HubModules: variable scope, multiplier, frozen names).
      wrap_optimizer: applied to each optimizer instance (the TPU's CrossShardOptimizer).
      guard: an op the update also runs (the NaN-loss check): when it fails, the
        session.run fails, so no hook sees the step and no checkpoint is written from it.
      summarize: write the learning-rate and gradient-norm summaries; off inside the
        multi-step training loop, whose tensors cannot be fetched from outside.

    Returns:
      The train op, which also increments the global step.
    """
    learning_rate = self.learning_rate(global_step, train_steps)
    if summarize:
      tf.compat.v1.summary.scalar("learning_rate", learning_rate)
    pairs = self.clip(self.gradients(loss, modules), summarize)
    updates = self.apply(pairs, learning_rate, modules, wrap_optimizer)
    if guard is not None:
      updates.append(guard)
    with tf.control_dependencies(updates):
      return tf.compat.v1.assign_add(global_step, 1, name="train_op").op


def _summed_rows(grad):
  """An IndexedSlices with one row per index (a batch can use a row several times)."""
  if not isinstance(grad, tf.IndexedSlices):
    return grad
  rows, positions = tf.unique(grad.indices)
  values = tf.math.unsorted_segment_sum(grad.values, positions, tf.shape(rows)[0])
  return tf.IndexedSlices(values, rows, grad.dense_shape)
