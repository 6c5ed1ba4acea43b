"""How the weights move: learning-rate regimes, optimizers, per-part rates, freezing, clipping.

Configured in gin as `learning_rate_schedule` and `optimization`. The optimizer is any
`tf.compat.v1.train` optimizer class (registered by `gin.tf.external_configurables`, e.g.
`@tf.train.AdamOptimizer`) or `@AdamWOptimizer` defined here. The pretrained module gets its
own optimizer instance at `module_learning_rate_multiplier` times the head's rate: scaling the
rate rather than the gradient keeps the multiplier meaningful for adaptive optimizers (Adam
ignores a constant gradient scale).
"""

import re

import gin
import tensorflow as tf

from finetune.errors import FinetuneError

DECAYS = ("constant", "linear", "polynomial", "cosine", "exponential", "piecewise_constant")


@gin.configurable
def learning_rate_schedule(global_step,
                           train_steps,
                           base_learning_rate=1e-3,
                           warmup_steps=0,
                           decay="constant",
                           decay_steps=None,
                           end_learning_rate=0.0,
                           power=1.0,
                           decay_rate=0.1,
                           alpha=0.0,
                           boundaries=(),
                           multipliers=()):
  """The learning rate at `global_step`: linear warm-up from 0, then the chosen decay.

  Args:
    global_step: the step tensor.
    train_steps: total training steps (the default decay horizon).
    base_learning_rate: the rate reached at the end of warm-up.
    warmup_steps: steps of linear warm-up; the rate is base * step / warmup_steps there.
    decay: one of constant, linear, polynomial, cosine, exponential, piecewise_constant.
      Decay starts after warm-up and counts steps from its end.
    decay_steps: decay horizon (default: train_steps - warmup_steps). For exponential decay,
      the rate is multiplied by decay_rate every decay_steps.
    end_learning_rate: where linear and polynomial decay end.
    power: the polynomial's power (linear is power 1).
    decay_rate: exponential decay factor.
    alpha: cosine decay's floor, as a fraction of the base rate.
    boundaries, multipliers: piecewise_constant: base * multipliers[i] between boundaries
      (global steps); len(multipliers) == len(boundaries) + 1.

  Returns:
    A float32 scalar tensor.
  """
  check_schedule(train_steps, base_learning_rate, warmup_steps, decay, decay_steps,
                 end_learning_rate, boundaries, multipliers)
  decay_steps = decay_steps or max(train_steps - warmup_steps, 1)
  step = tf.cast(global_step, tf.float32)
  after = tf.maximum(step - warmup_steps, 0.0)
  base = tf.constant(base_learning_rate, tf.float32)
  v1 = tf.compat.v1.train
  if decay == "constant":
    rate = base
  elif decay in ("linear", "polynomial"):
    rate = v1.polynomial_decay(base,
                               after,
                               decay_steps,
                               end_learning_rate,
                               power=1.0 if decay == "linear" else power)
  elif decay == "cosine":
    rate = v1.cosine_decay(base, after, decay_steps, alpha=alpha)
  elif decay == "exponential":
    rate = v1.exponential_decay(base, after, decay_steps, decay_rate)
  else:
    values = [base_learning_rate * m for m in multipliers]
    rate = v1.piecewise_constant(tf.cast(global_step, tf.int64), [int(b) for b in boundaries],
                                 values)
  if warmup_steps:
    warm = base * step / float(warmup_steps)
    rate = tf.where(step < warmup_steps, warm, rate)
  return tf.cast(rate, tf.float32, name="learning_rate")


def check_schedule(train_steps, base_learning_rate, warmup_steps, decay, decay_steps,
                   end_learning_rate, boundaries, multipliers):
  """Refuses regimes that cannot be meant, before any graph is built."""
  if decay not in DECAYS:
    raise FinetuneError(f"learning_rate_schedule.decay = '{decay}' is unknown; use one of: "
                        f"{', '.join(DECAYS)}.")
  if base_learning_rate <= 0:
    raise FinetuneError(f"learning_rate_schedule.base_learning_rate must be > 0, got "
                        f"{base_learning_rate}.")
  if end_learning_rate < 0:
    raise FinetuneError(f"learning_rate_schedule.end_learning_rate must be >= 0, got "
                        f"{end_learning_rate}.")
  if warmup_steps < 0 or warmup_steps >= train_steps:
    raise FinetuneError(f"learning_rate_schedule.warmup_steps = {warmup_steps} must be >= 0 "
                        f"and shorter than training (train_steps = {train_steps}).")
  if decay_steps is not None and decay_steps <= 0:
    raise FinetuneError(f"learning_rate_schedule.decay_steps must be > 0, got {decay_steps}.")
  if decay == "piecewise_constant":
    if len(multipliers) != len(boundaries) + 1:
      raise FinetuneError(
          "learning_rate_schedule: piecewise_constant needs len(multipliers) == "
          f"len(boundaries) + 1; got {len(multipliers)} multipliers and {len(boundaries)} "
          "boundaries.")
    if any(m < 0 for m in multipliers) or list(boundaries) != sorted(boundaries):
      raise FinetuneError("learning_rate_schedule: piecewise_constant needs increasing "
                          "boundaries and non-negative multipliers.")


@gin.configurable
class AdamWOptimizer(tf.compat.v1.train.AdamOptimizer):
  """Adam with decoupled weight decay (Loshchilov & Hutter): var -= lr * weight_decay * var.

  The decay is applied to the weights directly, not through the gradient, so Adam's
  per-parameter scaling does not weaken it. Biases and normalization parameters are left
  out by `exclude_from_weight_decay` (a regex over variable names).
  """

  def __init__(self,
               learning_rate=1e-3,
               weight_decay=0.01,
               exclude_from_weight_decay=r"bias|beta|gamma|moving_",
               **kwargs):
    super().__init__(learning_rate=learning_rate, **kwargs)
    self._weight_decay = weight_decay
    self._exclude = re.compile(exclude_from_weight_decay) if exclude_from_weight_decay else None

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    grads_and_vars = list(grads_and_vars)
    lr = tf.cast(self._call_if_callable(self._lr), tf.float32)
    decays = [
        var.assign_sub(lr * self._weight_decay * var, read_value=False)
        for grad, var in grads_and_vars
        if grad is not None and not (self._exclude and self._exclude.search(var.op.name))
    ]
    with tf.control_dependencies(decays):
      return super().apply_gradients(grads_and_vars, global_step=global_step, name=name)


@gin.configurable(denylist=["wrap_optimizer", "summarize", "guard"])
def optimization(loss,
                 global_step,
                 train_steps,
                 module_scope,
                 optimizer=tf.compat.v1.train.AdamOptimizer,
                 module_learning_rate_multiplier=1.0,
                 freeze_variables=(),
                 clip_gradient_norm=None,
                 wrap_optimizer=None,
                 summarize=True,
                 guard=None):
  """Builds the train op (without UPDATE_OPS: the head adds those).

  Args:
    loss: the total (task + regularization) loss.
    global_step, train_steps: passed to the learning-rate schedule.
    module_scope: variable scope of the hub module; its variables get the multiplier.
    optimizer: a tf.compat.v1.train optimizer class, called with learning_rate= and name=.
    module_learning_rate_multiplier: the pretrained module's rate relative to the head's
      (e.g. 0.1); 0 keeps the module fixed while batch-norm statistics still update.
    freeze_variables: regexes; matching variables are not trained.
    clip_gradient_norm: clip all gradients together to this global norm.
    wrap_optimizer: applied to each optimizer instance (the TPU path passes
      CrossShardOptimizer); not a gin setting.
    summarize: write the learning-rate and gradient-norm summaries; off inside the
      multi-step training loop (train_loop.py), whose tensors cannot be fetched from outside.
    guard: an op the train op also waits for (the NaN-loss check). It runs alongside the
      step: when it fails, the session.run fails, so no hook sees the step and no
      checkpoint is written from it (the weights in memory are then discarded).

  Returns:
    The train op, which also increments the global step.
  """
  if module_learning_rate_multiplier < 0:
    raise FinetuneError("optimization.module_learning_rate_multiplier must be >= 0, got "
                        f"{module_learning_rate_multiplier}.")
  learning_rate = learning_rate_schedule(global_step, train_steps)
  if summarize:
    tf.compat.v1.summary.scalar("learning_rate", learning_rate)
  variables = trainable_variables(freeze_variables)
  grads = tf.gradients(loss, variables)
  pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
  if not pairs:
    raise FinetuneError("No trainable variable receives a gradient; check "
                        "optimization.freeze_variables and hub_module.trainable.")
  grads, variables = zip(*pairs)
  norm = tf.linalg.global_norm(grads)
  if summarize:
    tf.compat.v1.summary.scalar("gradient_norm", norm)
  if clip_gradient_norm:
    grads, _ = tf.clip_by_global_norm(grads, clip_gradient_norm, use_norm=norm)
  in_module = lambda v: v.op.name.startswith(module_scope + "/")
  pairs = list(zip(grads, variables))
  if module_learning_rate_multiplier == 1.0:
    groups = {"all": (pairs, learning_rate)}  # one optimizer: fewer ops per step
  else:
    groups = {
        "head": ([(g, v) for g, v in pairs if not in_module(v)], learning_rate),
        "module": ([(g, v) for g, v in pairs if in_module(v)],
                   learning_rate * module_learning_rate_multiplier),
    }
  updates = []
  for part, (part_pairs, rate) in groups.items():
    if part_pairs and not (part == "module" and module_learning_rate_multiplier == 0):
      name = "optimizer" if part == "all" else f"{part}_optimizer"
      instance = optimizer(learning_rate=rate, name=name)
      if wrap_optimizer:
        instance = wrap_optimizer(instance)
      updates.append(instance.apply_gradients(part_pairs))
  if guard is not None:
    updates.append(guard)
  with tf.control_dependencies(updates):
    return tf.compat.v1.assign_add(global_step, 1, name="train_op").op


def trainable_variables(freeze_variables=()):
  """TRAINABLE_VARIABLES minus those matching any regex in `freeze_variables`."""
  patterns = [re.compile(p) for p in freeze_variables]
  variables = tf.compat.v1.trainable_variables()
  kept = [v for v in variables if not any(p.search(v.op.name) for p in patterns)]
  for pattern in patterns:
    if not any(pattern.search(v.op.name) for v in variables):
      names = ", ".join(v.op.name for v in variables[:20])
      raise FinetuneError(f"optimization.freeze_variables pattern '{pattern.pattern}' matches "
                          f"no trainable variable; some are: {names}.")
  return kept
