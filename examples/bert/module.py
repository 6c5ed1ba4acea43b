"""A small BERT-style text encoder exported in TF1 Hub format with BERT's public signatures.

    "tokens":            input_ids, input_mask, segment_ids  int32 [batch, seq_len]
                         -> pooled_output [batch, H], sequence_output [batch, seq_len, H]
    "tokenization_info": -> vocab_file (string scalar: the WordPiece vocabulary, an asset of
                            the module), do_lower_case (bool scalar)
    "mlm":               input_ids, input_mask, segment_ids, mlm_positions [batch, P]
                         -> mlm_logits [batch, P, vocab_size] (masked-language-model head,
                            output layer tied to the word embeddings), for pretraining

The {"train"} variant adds dropout; kernels carry an L2 regularizer (REGULARIZATION_LOSSES
when fine-tuned). Attention ignores padded positions, so the sequence output at real
positions does not depend on how much padding follows. `seq_length=None` makes the
sequence length dynamic (up to `max_position`); a number fixes it in the signature, the way
some published modules do.
"""

import math

import tensorflow as tf
import tensorflow_hub as hub

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _layer_norm(x, name):
  with tf.compat.v1.variable_scope(name):
    dim = x.shape[-1]
    gamma = tf.compat.v1.get_variable("gamma", [dim], initializer=tf.compat.v1.ones_initializer())
    beta = tf.compat.v1.get_variable("beta", [dim], initializer=tf.compat.v1.zeros_initializer())
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-6) * gamma + beta


def _dense(x, units, name, regularizer, activation=None):
  return tf.compat.v1.layers.dense(
      x, units, activation=activation, name=name, kernel_regularizer=regularizer,
      kernel_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.02))


def _attention(x, additive_mask, heads, regularizer, dropout):
  batch, length, hidden = tf.shape(x)[0], tf.shape(x)[1], x.shape[-1]
  size = hidden // heads

  def split(t):  # [batch, length, hidden] -> [batch, heads, length, size]
    return tf.transpose(tf.reshape(t, [batch, length, heads, size]), [0, 2, 1, 3])

  q, k, v = (split(_dense(x, hidden, n, regularizer)) for n in ("query", "key", "value"))
  scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(size) + additive_mask
  weights = tf.nn.softmax(scores)
  if dropout:
    weights = tf.nn.dropout(weights, rate=dropout)
  context = tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3])
  return _dense(tf.reshape(context, [batch, length, hidden]), hidden, "output", regularizer)


def encoder(input_ids, input_mask, segment_ids, vocab_size, hidden, layers, heads, intermediate,
            max_position, dropout, regularizer):
  """The transformer: returns sequence_output [batch, seq_len, hidden]."""
  init = tf.compat.v1.truncated_normal_initializer(stddev=0.02)
  with tf.compat.v1.variable_scope("embeddings"):
    words = tf.compat.v1.get_variable("word_embeddings", [vocab_size, hidden], initializer=init)
    positions = tf.compat.v1.get_variable("position_embeddings", [max_position, hidden],
                                          initializer=init)
    types = tf.compat.v1.get_variable("token_type_embeddings", [2, hidden], initializer=init)
    length = tf.shape(input_ids)[1]
    x = (tf.gather(words, input_ids) + positions[tf.newaxis, :length] +
         tf.gather(types, segment_ids))
    x = _layer_norm(x, "LayerNorm")
    if dropout:
      x = tf.nn.dropout(x, rate=dropout)
  additive_mask = (1.0 - tf.cast(input_mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]) * -10000.0
  for i in range(layers):
    with tf.compat.v1.variable_scope(f"encoder/layer_{i}"):
      with tf.compat.v1.variable_scope("attention"):
        attended = _attention(x, additive_mask, heads, regularizer, dropout)
        if dropout:
          attended = tf.nn.dropout(attended, rate=dropout)
        x = _layer_norm(x + attended, "LayerNorm")
      with tf.compat.v1.variable_scope("ffn"):
        inner = _dense(x, intermediate, "intermediate", regularizer, activation=tf.nn.gelu)
        out = _dense(inner, hidden, "output", regularizer)
        if dropout:
          out = tf.nn.dropout(out, rate=dropout)
        x = _layer_norm(x + out, "LayerNorm")
  return x, words


def module_fn(vocab_file, vocab_size, do_lower_case, is_training, hidden=64, layers=2, heads=2,
              intermediate=128, max_position=128, seq_length=None, dropout=0.1, l2=1e-5,
              with_tokenization_info=True):
  """The module graph of one variant (hub.create_module_spec calls it per tag set)."""
  placeholder = lambda name: tf.compat.v1.placeholder(tf.int32, [None, seq_length], name=name)
  input_ids, input_mask, segment_ids = (placeholder(n)
                                        for n in ("input_ids", "input_mask", "segment_ids"))
  regularizer = tf.keras.regularizers.l2(l2) if l2 else None
  rate = dropout if is_training else 0.0
  sequence_output, word_embeddings = encoder(input_ids, input_mask, segment_ids, vocab_size,
                                             hidden, layers, heads, intermediate, max_position,
                                             rate, regularizer)
  with tf.compat.v1.variable_scope("pooler"):
    pooled_output = _dense(sequence_output[:, 0], hidden, "dense", regularizer,
                           activation=tf.tanh)
  tokens = dict(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids)
  hub.add_signature("tokens", inputs=tokens,
                    outputs=dict(pooled_output=pooled_output, sequence_output=sequence_output))
  mlm_positions = tf.compat.v1.placeholder(tf.int32, [None, None], name="mlm_positions")
  with tf.compat.v1.variable_scope("mlm"):
    picked = tf.gather(sequence_output, mlm_positions, batch_dims=1)
    transformed = _layer_norm(_dense(picked, hidden, "transform", regularizer,
                                     activation=tf.nn.gelu), "LayerNorm")
    bias = tf.compat.v1.get_variable("output_bias", [vocab_size],
                                     initializer=tf.compat.v1.zeros_initializer())
    mlm_logits = tf.einsum("bph,vh->bpv", transformed, word_embeddings) + bias
  hub.add_signature("mlm", inputs=dict(tokens, mlm_positions=mlm_positions),
                    outputs=dict(mlm_logits=mlm_logits))
  if with_tokenization_info:
    _add_tokenization_info(vocab_file, do_lower_case)


def _add_tokenization_info(vocab_file, do_lower_case):
  # A constant file name in ASSET_FILEPATHS: hub copies the vocabulary into the module's
  # assets/ and the loaded module's tensor names that copy (how BERT's modules do it).
  vocab = tf.constant(vocab_file)
  tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.ASSET_FILEPATHS, vocab)
  hub.add_signature("tokenization_info", inputs={},
                    outputs=dict(vocab_file=vocab, do_lower_case=tf.constant(do_lower_case)))


def create_spec(vocab_file, do_lower_case=True, vocab_size=None, **kwargs):
  """A hub.ModuleSpec with the {"train"} (dropout) and set() variants. `vocab_size` defaults
  to the lines of a WordPiece vocabulary; give it for a SentencePiece model."""
  if vocab_size is None:
    with open(vocab_file) as f:
      vocab_size = sum(1 for _ in f)
  args = dict(vocab_file=vocab_file, vocab_size=vocab_size, do_lower_case=do_lower_case, **kwargs)
  return hub.create_module_spec(module_fn,
                                tags_and_args=[({"train"}, dict(is_training=True, **args)),
                                               (set(), dict(is_training=False, **args))])


def export_untrained(export_dir, vocab_file, seed=0, **kwargs):
  """Exports the module with its random initialization (tests; the from-scratch baseline)."""
  spec = create_spec(vocab_file, **kwargs)
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)
    module = hub.Module(spec)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      module.export(export_dir, session)
  return export_dir
