"""The NaN guard: a step whose loss is NaN or infinite fails instead of being saved."""

import tensorflow as tf

NON_FINITE_LOSS = "Non-finite loss at step"  # runtime/diagnosis.py recognizes this text


def loss_check(loss, global_step):
  """An op that fails the step's session.run when the loss is NaN or infinite, so that no
  hook sees the step and no checkpoint is written from it.

  The Assert kernel itself, without the cond that tf.debugging.Assert wraps around it (a
  handful of ops per step for data that is two scalars the step computes anyway).
  """
  return tf.raw_ops.Assert(condition=tf.math.is_finite(loss),
                           data=[tf.constant(NON_FINITE_LOSS),
                                 global_step.read_value(), loss],
                           summarize=3,
                           name="loss_is_finite")
