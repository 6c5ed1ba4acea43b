"""A lower-cased WordPiece vocabulary learned from text, and BERT tokenization with it.

Words are split the way BERT does before WordPiece (tensorflow_text's BasicTokenizer with
lower_case=True: NFD, accents stripped, lower-cased, split on whitespace and punctuation),
so a vocabulary learned here tokenizes the same in finetune's FastBertTokenizer /
BertTokenizer. The WordPiece learner is the one behind tensorflow_text's
`bert_vocab_from_dataset`, called directly on word counts: that function iterates a
tf.data.Dataset eagerly, whereas these helpers run their TensorFlow ops in a private graph
and session, and so work whether or not eager execution is on.
"""

import collections

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops import bert_tokenizer
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from examples.bert import module as bert_module


def _run_in_graph(make_outputs, lines):
  """Runs make_outputs(string tensor of lines) in a fresh graph; returns the numpy result."""
  with tf.Graph().as_default():
    placeholder = tf.compat.v1.placeholder(tf.string, [None])
    outputs = make_outputs(placeholder)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.tables_initializer())
      return session.run(outputs, {placeholder: lines})


def word_counts(lines):
  """collections.Counter of BERT's basic-tokenized, lower-cased words in `lines`."""
  tokenize_words = lambda t: bert_tokenizer.BasicTokenizer(lower_case=True).tokenize(t)
  words = _run_in_graph(lambda t: tokenize_words(t).flat_values, lines)
  return collections.Counter(word.decode("utf-8") for word in words)


def learn(lines, vocab_size=3000):
  """A WordPiece vocabulary (list of tokens, at most vocab_size) for `lines`.

  It starts with module.SPECIAL_TOKENS ([PAD] first, so padding is id 0), then every
  character seen (as a word start and as a "##" continuation), then frequent pieces.
  """
  return learner.learn(word_counts(lines), vocab_size, bert_module.SPECIAL_TOKENS)


def write(vocabulary, path):
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(vocabulary) + "\n")


def read(path):
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f]


def tokenize(lines, vocabulary):
  """[[wordpiece id, ...] per line], by tensorflow_text.FastBertTokenizer as finetune does."""

  def wordpiece_ids(text):  # the tokenizer holds tensors, so it is made inside the graph
    tokenizer = tf_text.FastBertTokenizer(vocab=vocabulary,
                                          token_out_type=tf.int32,
                                          lower_case_nfd_strip_accents=True)
    return tokenizer.tokenize(text).merge_dims(1, -1)

  return _run_in_graph(wordpiece_ids, lines).to_list()
