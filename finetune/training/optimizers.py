"""Optimizers finetune adds to the `tf.compat.v1.train` ones that gin already knows
(`gin.tf.external_configurables` registers those, e.g. `@tf.train.AdamOptimizer`).

The lazy variants exist for big embedding tables: TF1's Adam decays both moment tables of a
variable densely at every step, so a step on a 100M-row table touches 3 x 100M floats
however few rows the batch used. Lazy Adam updates the moments and the weights only on the
rows whose gradient is sparse (an `IndexedSlices`); dense gradients get exactly dense Adam.
"""

import re
from typing import Optional

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError


def _adam_settings(name, beta1, beta2, epsilon, use_locking, op_name):
  """Adam's own settings, checked: each beta a decay in [0, 1), epsilon > 0."""
  for setting, beta in (("beta1", beta1), ("beta2", beta2)):
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
      raise FinetuneError(f"{name}.{setting} must be a decay rate in [0, 1), got {beta!r}.")
  return dict(beta1=beta1, beta2=beta2, epsilon=checks.positive_number(epsilon, f"{name}.epsilon"),
              use_locking=checks.boolean(use_locking, f"{name}.use_locking"),
              name=checks.scope_name(op_name, f"{name}.name", "Adam"))


class _AdamW(tf.compat.v1.train.AdamOptimizer):
  """Adam with decoupled weight decay (Loshchilov & Hutter): var -= lr * weight_decay * var.

  The decay is applied to the weights directly, not through the gradient, so Adam's
  per-parameter scaling does not weaken it. Biases and normalization parameters are left
  out by `exclude_from_weight_decay` (a regex over variable names).

  Args:
    learning_rate: the step size (optimization.learning_rate's schedule sets it).
    weight_decay: the share of each weight removed per step, times the learning rate.
    exclude_from_weight_decay: regex over variable names that do not decay (None: all do).
    beta1, beta2, epsilon, use_locking, name: as tf.compat.v1.train.AdamOptimizer's.
  """

  def __init__(self,
               learning_rate: float = 1e-3,
               weight_decay: float = 0.01,
               exclude_from_weight_decay: Optional[str] = r"bias|beta|gamma|moving_",
               beta1: float = 0.9,
               beta2: float = 0.999,
               epsilon: float = 1e-8,
               use_locking: bool = False,
               name: str = "Adam"):
    configurable = type(self).__name__
    super().__init__(learning_rate=learning_rate,
                     **_adam_settings(configurable, beta1, beta2, epsilon, use_locking, name))
    self.weight_decay = checks.non_negative_number(weight_decay, f"{configurable}.weight_decay")
    self.excluded = (checks.regex(exclude_from_weight_decay,
                                  f"{configurable}.exclude_from_weight_decay")
                     if exclude_from_weight_decay else None)

  def _decay(self, grad, var, rate):
    """The decay of `var` for one step (the whole variable)."""
    del grad
    return var.assign_sub(rate * var, read_value=False)

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    grads_and_vars = list(grads_and_vars)
    rate = tf.cast(self._call_if_callable(self._lr), tf.float32) * self.weight_decay
    # The decay writes the weights: only once every gradient (which read them) is computed.
    grads = [g.values if isinstance(g, tf.IndexedSlices) else g for g, _ in grads_and_vars
             if g is not None]
    with tf.control_dependencies(grads):
      decays = [
          self._decay(grad, var, tf.cast(rate, var.dtype.base_dtype))
          for grad, var in grads_and_vars
          if grad is not None and not (self.excluded and self.excluded.search(var.op.name))
      ]
    with tf.control_dependencies(decays):
      return super().apply_gradients(grads_and_vars, global_step=global_step, name=name)


class _LazyRows:
  """For a sparse gradient, Adam's update of only the rows the batch touched (a mixin:
  gin wraps a configurable class's __init__, so configurables do not inherit each other)."""

  def _apply_sparse(self, grad, var):
    return self._lazy_update(grad.values, var, grad.indices)

  def _resource_apply_sparse(self, grad, handle, indices):
    return self._lazy_update(grad, handle, indices)

  def _lazy_update(self, values, var, indices):
    """Adam on the rows `indices` (unique: the base class sums duplicates first)."""
    dtype = var.dtype.base_dtype
    cast = lambda t: tf.cast(t, dtype)
    beta1_power, beta2_power = self._get_beta_accumulators()
    beta1, beta2 = cast(self._beta1_t), cast(self._beta2_t)
    rate = cast(self._lr_t) * tf.sqrt(1 - cast(beta2_power)) / (1 - cast(beta1_power))
    m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
    m_rows = beta1 * tf.gather(m, indices) + (1 - beta1) * values
    v_rows = beta2 * tf.gather(v, indices) + (1 - beta2) * tf.square(values)
    step = rate * m_rows / (tf.sqrt(v_rows) + cast(self._epsilon_t))
    locking = self._use_locking
    return tf.group(m.scatter_update(tf.IndexedSlices(m_rows, indices), use_locking=locking),
                    v.scatter_update(tf.IndexedSlices(v_rows, indices), use_locking=locking),
                    var.scatter_sub(tf.IndexedSlices(step, indices), use_locking=locking))


@gin.configurable
class AdamWOptimizer(_AdamW):
  __doc__ = _AdamW.__doc__


@gin.configurable
class LazyAdamOptimizer(_LazyRows, tf.compat.v1.train.AdamOptimizer):
  """Adam that, for a sparse gradient, updates only the rows the batch touched.

  On those rows the moments and the step are dense Adam's formulas (the bias correction
  uses the global step count). Rows a batch does not touch keep their moments, where dense
  Adam would decay them, and do not move, where dense Adam would keep moving them by their
  decaying momentum. Dense gradients (head, dense module layers) get dense Adam. Slots are
  named as Adam's, so a checkpoint moves between the two.

  Args:
    learning_rate: the step size (optimization.learning_rate's schedule sets it).
    beta1, beta2, epsilon, use_locking, name: as tf.compat.v1.train.AdamOptimizer's.
  """

  def __init__(self,
               learning_rate: float = 1e-3,
               beta1: float = 0.9,
               beta2: float = 0.999,
               epsilon: float = 1e-8,
               use_locking: bool = False,
               name: str = "Adam"):
    super().__init__(learning_rate=learning_rate,
                     **_adam_settings("LazyAdamOptimizer", beta1, beta2, epsilon, use_locking,
                                      name))


@gin.configurable
class LazyAdamWOptimizer(_LazyRows, _AdamW):
  """Lazy Adam with AdamW's decoupled weight decay, which is lazy too: a variable with a
  sparse gradient decays only on the rows the batch touched (once per row and step), so a
  row's decay, like its update, happens when it is used. Dense variables decay as in AdamW.

  Args:
    learning_rate: the step size (optimization.learning_rate's schedule sets it).
    weight_decay: the share of each weight removed per step, times the learning rate.
    exclude_from_weight_decay: regex over variable names that do not decay (None: all do).
    beta1, beta2, epsilon, use_locking, name: as tf.compat.v1.train.AdamOptimizer's.
  """

  def _decay(self, grad, var, rate):
    if not isinstance(grad, tf.IndexedSlices):
      return super()._decay(grad, var, rate)
    rows, _ = tf.unique(grad.indices)
    return var.scatter_sub(tf.IndexedSlices(rate * tf.gather(var, rows), rows),
                           use_locking=self._use_locking)
