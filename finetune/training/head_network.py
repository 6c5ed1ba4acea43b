"""The new layers between the module's output and the head's logits."""

import inspect
from typing import Callable, Sequence

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError


@gin.configurable("head_network")
class HeadNetwork:
  """Optional hidden layers with dropout, then the logits layer.

  Args:
    hidden_units: sizes of hidden layers between the module output and the logits.
    dropout: dropout rate applied to the module output and after each hidden layer.
    activation: activation of the hidden layers.
    l2_regularization: L2 weight on the head's kernels (goes to REGULARIZATION_LOSSES).
  """

  def __init__(self,
               hidden_units: Sequence[int] = (),
               dropout: float = 0.0,
               activation: Callable = tf.nn.relu,
               l2_regularization: float = 0.0):
    self.hidden_units = [
        checks.positive_int(u, "head_network.hidden_units entries")
        for u in checks.sequence(hidden_units, "head_network.hidden_units", "[256, 64]")
    ]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
      raise FinetuneError(f"head_network.dropout must be a rate in [0, 1), got {dropout!r}.")
    self.dropout = dropout
    if inspect.isclass(activation) or not callable(activation):
      raise FinetuneError(f"head_network.activation must be an activation function such as "
                          f"@tf.nn.relu or @tf.nn.gelu; got {activation!r}.")
    self.activation = activation
    self.l2_regularization = checks.non_negative_number(l2_regularization,
                                                        "head_network.l2_regularization")

  def __call__(self, inputs, logits_dimension, training):
    """Returns [batch, logits_dimension] logits; variables live under `head/`."""
    regularizer = (tf.keras.regularizers.l2(self.l2_regularization)
                   if self.l2_regularization else None)
    layers = tf.compat.v1.layers
    # AUTO_REUSE: replicas (training/replicas.py) call the head once per shard, one set of
    # variables.
    with tf.compat.v1.variable_scope("head", reuse=tf.compat.v1.AUTO_REUSE):
      net = layers.dropout(inputs, rate=self.dropout, training=training) if self.dropout else inputs
      for i, units in enumerate(self.hidden_units):
        net = layers.dense(net,
                           units,
                           activation=self.activation,
                           kernel_regularizer=regularizer,
                           name=f"hidden_{i}")
        if self.dropout:
          net = layers.dropout(net, rate=self.dropout, training=training)
      return layers.dense(net, logits_dimension, kernel_regularizer=regularizer, name="logits")
