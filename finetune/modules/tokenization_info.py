"""What a BERT-family module says about its own tokenizer: its "tokenization_info" signature.

BERT- and ALBERT-style TF1 Hub modules carry their vocabulary as an asset and name it, with
the lower-casing they were trained with, in a signature without inputs (BERT's
run_classifier_with_tfhub.py reads it the same way, in a set-up session). The vocabulary is
a WordPiece vocabulary (text, one token per line) or a SentencePiece model (binary).
"""

import dataclasses
import os

import tensorflow as tf
import tensorflow_hub as hub

SIGNATURE = "tokenization_info"
POSITION_TABLE = "position_embeddings"  # BERT's and ALBERT's [max positions, hidden] table
DEFAULT_MAX_SEQ_LENGTH = 128
TOKENS_INPUTS = ("input_ids", "input_mask", "segment_ids")


@dataclasses.dataclass
class TokenizationInfo:
  vocab_file: str
  do_lower_case: bool


def takes_tokens(spec, signature, tags):
  """True if `signature` takes BERT's three int inputs (input_ids, input_mask, segment_ids)."""
  inputs = spec.get_input_info_dict(signature=signature, tags=tags)
  return set(TOKENS_INPUTS) <= set(inputs)


def position_rows(spec, path):
  """Rows of the module's position table (BERT's `.../position_embeddings`): the longest
  token sequence it takes (a longer one fails inside the module's graph). None without one.

  Read from the variable names and shapes: a TF2 SavedModel's spec lists them, a TF1 Hub
  module's checkpoint index does (nothing is loaded)."""
  if hasattr(spec, "variables"):  # tf2_module.TF2Spec
    shapes = [(name, shape) for name, shape, _ in spec.variables]
  else:
    prefix = os.path.join(path, "variables", "variables")
    shapes = tf.train.list_variables(prefix) if tf.io.gfile.exists(prefix + ".index") else []
  rows = [shape[0] for name, shape in shapes
          if name.split("/")[-1] == POSITION_TABLE and len(shape) == 2]
  return min(rows) if rows else None


def suggested_length(rows):
  """The max_seq_length to propose: 128, or the position table's size if smaller."""
  return DEFAULT_MAX_SEQ_LENGTH if rows is None else min(DEFAULT_MAX_SEQ_LENGTH, rows)


def read(spec, tags):
  """The module's TokenizationInfo, or None if it has no tokenization_info signature."""
  if SIGNATURE not in spec.get_signature_names(tags=tags):
    return None
  with tf.Graph().as_default():
    module = hub.Module(spec, tags=tags)
    info = module(signature=SIGNATURE, as_dict=True)
    with tf.compat.v1.Session() as session:
      values = session.run({k: info[k] for k in ("vocab_file", "do_lower_case")})
  return TokenizationInfo(values["vocab_file"].decode(), bool(values["do_lower_case"]))
