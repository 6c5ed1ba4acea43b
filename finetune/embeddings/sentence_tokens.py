"""Sentences to words inside the graph, the same for TF1 and TF2 modules, so that a module
takes raw text and every consumer tokenizes it alike.

Lower-casing is Unicode-aware (GloVe's words are lower case; word2vec's are not: turn it
off for them). Punctuation and symbols (Unicode classes P and S):
  "space"  become spaces, so "python," finds "python" (the guide's exporter drops them);
  "split"  become words of their own, as GloVe's tokenizer made them ("python ,");
  "keep"   stay inside words: only whitespace splits.
Unicode space separators (no-break space) split words too.
"""

import tensorflow as tf

from finetune.errors import FinetuneError

PUNCTUATION = ("space", "split", "keep")
_SPACES = r"\p{Z}"
_MARKS = r"\pP\pS"


def check_punctuation(punctuation):
  if punctuation not in PUNCTUATION:
    raise FinetuneError(f"--punctuation={punctuation} is not a choice; use one of: "
                        f"{', '.join(PUNCTUATION)}.")
  return punctuation


def words(sentences, lowercase, punctuation):
  """A 1-D string tensor of sentences -> a SparseTensor [sentences, words] of words."""
  text = tf.strings.lower(sentences, encoding="utf-8") if lowercase else sentences
  if punctuation == "space":
    text = tf.strings.regex_replace(text, f"[{_MARKS}{_SPACES}]", " ")
  elif punctuation == "split":
    text = tf.strings.regex_replace(text, f"([{_MARKS}])", r" \1 ")
    text = tf.strings.regex_replace(text, f"[{_SPACES}]", " ")
  else:
    text = tf.strings.regex_replace(text, f"[{_SPACES}]", " ")
  return tf.strings.split(text).to_sparse()


def word_ids(sentences, table, lowercase, punctuation):
  """The table's ids of the sentences' words, a SparseTensor [sentences, words] of int64."""
  tokens = words(sentences, lowercase, punctuation)
  return tf.SparseTensor(tokens.indices, table.lookup(tokens.values), tokens.dense_shape)
