"""What a BERT-family module says about its own tokenizer: its "tokenization_info" signature.

BERT- and ALBERT-style TF1 Hub modules carry their vocabulary as an asset and name it, with
the lower-casing they were trained with, in a signature without inputs (BERT's
run_classifier_with_tfhub.py reads it the same way, in a set-up session). The vocabulary is
a WordPiece vocabulary (text, one token per line) or a SentencePiece model (binary).
"""

import dataclasses

import tensorflow as tf
import tensorflow_hub as hub

SIGNATURE = "tokenization_info"
TOKENS_INPUTS = ("input_ids", "input_mask", "segment_ids")


@dataclasses.dataclass
class TokenizationInfo:
  vocab_file: str
  do_lower_case: bool


def takes_tokens(spec, signature, tags):
  """True if `signature` takes BERT's three int inputs (input_ids, input_mask, segment_ids)."""
  inputs = spec.get_input_info_dict(signature=signature, tags=tags)
  return set(TOKENS_INPUTS) <= set(inputs)


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
