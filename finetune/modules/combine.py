"""How the outputs of one module applied to several inputs meet before the head.

"concat" joins them side by side; "pair" is the sentence-pair feature of InferSent and
Sentence-BERT for exactly two applications u and v: [u, v, |u - v|, u * v], which lets a
small head compare the two encodings (the same module, the same weights, encoded both).
"""

import tensorflow as tf

from finetune.errors import FinetuneError

COMBINATIONS = ("concat", "pair")


def check(combine, applications=None, selector="hub_module"):
  """Refuses an unknown combination, or "pair" for other than two applications (when their
  number is known)."""
  if combine not in COMBINATIONS:
    raise FinetuneError(f"{selector}.combine = {combine!r} is unknown; use one of: "
                        f"{', '.join(COMBINATIONS)}.")
  if combine == "pair" and applications is not None and applications != 2:
    raise FinetuneError(
        f"{selector}.combine = 'pair' compares exactly two applications of the module, but "
        f"{selector}.input_mapping gives {applications}; give a list of two mappings, or use "
        "combine = 'concat'.")
  return combine


def combine(outputs, how):
  """[batch, features] outputs of the applications -> one [batch, features'] tensor."""
  if len(outputs) == 1:
    return outputs[0]
  if how == "pair":
    u, v = outputs
    return tf.concat([u, v, tf.abs(u - v), u * v], axis=-1)
  return tf.concat(outputs, axis=-1)
