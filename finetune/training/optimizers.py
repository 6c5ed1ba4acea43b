"""Optimizers finetune adds to the `tf.compat.v1.train` ones that gin already knows
(`gin.tf.external_configurables` registers those, e.g. `@tf.train.AdamOptimizer`)."""

import re

import gin
import tensorflow as tf


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
    self.weight_decay = weight_decay
    self.excluded = re.compile(exclude_from_weight_decay) if exclude_from_weight_decay else None

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    grads_and_vars = list(grads_and_vars)
    lr = tf.cast(self._call_if_callable(self._lr), tf.float32)
    decays = [
        var.assign_sub(lr * self.weight_decay * var, read_value=False)
        for grad, var in grads_and_vars
        if grad is not None and not (self.excluded and self.excluded.search(var.op.name))
    ]
    with tf.control_dependencies(decays):
      return super().apply_gradients(grads_and_vars, global_step=global_step, name=name)
