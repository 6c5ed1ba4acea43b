"""Pooling a sequence output [batch, positions, features] into [batch, features] for a
per-example head, with padded positions masked out so padding never changes the result."""

import tensorflow as tf

from finetune.errors import FinetuneError

POOLINGS = ("first", "mean", "max")


def check(pooling):
  if pooling is not None and pooling not in POOLINGS:
    raise FinetuneError(f"hub_module.pooling = {pooling!r} is unknown; use one of: "
                        f"{', '.join(POOLINGS)} (or None for a [batch, features] output).")
  return pooling


def pool(sequence, mask, pooling):
  """sequence [batch, positions, features], mask [batch, positions] (1 = real) or None."""
  if pooling == "first":  # BERT's [CLS] position
    return sequence[:, 0]
  if mask is None:
    mask = tf.ones(tf.shape(sequence)[:2], tf.float32)
  mask = tf.cast(mask, sequence.dtype)[:, :, tf.newaxis]
  if pooling == "mean":
    return tf.reduce_sum(sequence * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
  lowest = tf.fill(tf.shape(sequence), sequence.dtype.min)
  return tf.reduce_max(tf.where(mask > 0, sequence, lowest), axis=1)
