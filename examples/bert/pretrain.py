"""Masked-language-model pretraining of the BERT example's module, then its export.

The route is examples/pretrain.py's (hub.Module(spec, trainable=True, tags={"train"}), a
session loop, Module.export), with BERT's objective instead of labels: docstring sentences
are WordPiece-tokenized, packed into sequences of up to 64 wordpieces ([CLS] ... [SEP], a
[SEP] after each docstring), 15% of the wordpieces of each sequence are picked anew every
step, and the module's "mlm" signature predicts them. As in BERT, a picked wordpiece is
replaced by [MASK] 80% of the time, by a random wordpiece 10%, and left as it is 10%.

Masked-wordpiece accuracy is measured on held-out docstrings (every 20th, by a hash of its
text) with one fixed masking, before and after training, by the inference variant.
"""

import gzip
import hashlib
import time

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from examples import pretrain as examples_pretrain
from examples.bert import module as bert_module
from examples.bert import vocab as bert_vocab

PAD, UNK, CLS, SEP, MASK = range(5)  # the ids of module.SPECIAL_TOKENS, in that order
MASK_RATE = 0.15
HELD_OUT_EVERY = 20


def read_documents(path, limit=None):
  """[[sentence, ...] per docstring] of a corpus file (blank line between docstrings)."""
  with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
    documents = [d.split("\n") for d in f.read().strip("\n").split("\n\n")]
  return documents[:limit]


def split_documents(documents):
  """(train, held_out) documents; one in HELD_OUT_EVERY is held out, by a hash of its text."""
  held = lambda d: int(hashlib.sha1("\n".join(d).encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0
  return [d for d in documents if not held(d)], [d for d in documents if held(d)]


def pack(documents, vocabulary, max_seq_length=64):
  """int32 [n, max_seq_length] id sequences: [CLS] sentences... [SEP], padded with [PAD].

  Consecutive sentences fill a sequence (across docstrings, each closed by [SEP]); a sentence
  longer than a whole sequence is cut into pieces.
  """
  assert vocabulary[:len(bert_module.SPECIAL_TOKENS)] == bert_module.SPECIAL_TOKENS, vocabulary[:5]
  ids = iter(bert_vocab.tokenize([s for d in documents for s in d], vocabulary))
  room = max_seq_length - 2
  units = []
  for document in documents:
    sentences = [next(ids) for _ in document]
    sentences[-1] = sentences[-1] + [SEP]
    units += [s[i:i + room] for s in sentences for i in range(0, len(s), room)]
  bodies, body = [], []
  for unit in units:
    if body and len(body) + len(unit) > room:
      bodies.append(body)
      body = []
    body = body + unit
  bodies.append(body)
  result = np.full([len(bodies), max_seq_length], PAD, np.int32)
  for row, body in enumerate(bodies):
    tokens = [CLS] + body + ([] if body[-1] == SEP else [SEP])
    result[row, :len(tokens)] = tokens
  return result


def mask(sequences, rng, vocab_size, max_predictions):
  """BERT's masking of a batch: (input_ids, positions, labels, weights), [batch, P] each."""
  input_ids = sequences.copy()
  shape = [len(sequences), max_predictions]
  positions, labels = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
  weights = np.zeros(shape, np.float32)
  for row, sequence in enumerate(sequences):
    candidates = np.flatnonzero(~np.isin(sequence, [PAD, CLS, SEP, MASK]))
    count = min(max_predictions, len(candidates), max(1, int(round(len(candidates) * MASK_RATE))))
    picked = np.sort(rng.choice(candidates, count, replace=False))
    positions[row, :count], labels[row, :count], weights[row, :count] = picked, sequence[picked], 1
    draw = rng.random_sample(count)
    input_ids[row, picked[draw < 0.8]] = MASK
    randomized = picked[(draw >= 0.8) & (draw < 0.9)]
    input_ids[row, randomized] = rng.randint(len(bert_module.SPECIAL_TOKENS), vocab_size,
                                             len(randomized))
  return input_ids, positions, labels, weights


def _mlm_outputs(module, inputs):
  """(per-position cross-entropy, correct) [batch, P] of module's "mlm" signature."""
  input_ids, positions, labels, _ = inputs
  logits = module(dict(input_ids=input_ids,
                       input_mask=tf.cast(input_ids > PAD, tf.int32),
                       segment_ids=tf.zeros_like(input_ids),
                       mlm_positions=positions),
                  signature="mlm",
                  as_dict=True)["mlm_logits"]
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
  return losses, correct


def _train_op(loss, learning_rate, steps, warmup_fraction=0.1):
  """Adam with a linear warm-up then a linear decay to zero, as BERT trains."""
  step = tf.compat.v1.train.get_or_create_global_step()
  progress = tf.cast(step, tf.float32)
  warmup = max(1.0, warmup_fraction * steps)
  rate = learning_rate * tf.minimum(progress / warmup,
                                    tf.maximum(0.0, (steps - progress) / (steps - warmup + 1)))
  return tf.compat.v1.train.AdamOptimizer(rate).minimize(loss, global_step=step)


def _accuracy(session, inputs, correct, batches):
  """Weighted accuracy of `correct` over the feed dicts of `batches`."""
  hits = total = 0.0
  for batch in batches:
    values = session.run(correct, dict(zip(inputs, batch)))
    hits += float((values * batch[3]).sum())
    total += float(batch[3].sum())
  return hits / total


def _most_frequent_accuracy(train_sequences, eval_batch):
  """The accuracy of always guessing the most frequent wordpiece of train_sequences: what MLM
  accuracy means nothing below."""
  counts = np.bincount(train_sequences.ravel())
  counts[:len(bert_module.SPECIAL_TOKENS)] = 0
  _, _, labels, weights = eval_batch
  return float((weights * (labels == counts.argmax())).sum() / weights.sum())


def pretrain_and_export(spec,
                        export_dir,
                        train_sequences,
                        eval_sequences,
                        vocab_size,
                        steps,
                        batch_size=32,
                        learning_rate=2e-3,
                        seed=0):
  """Trains `spec` by masked-language modelling on train_sequences, then exports it.

  Args:
    spec: a hub.ModuleSpec from module.create_spec (an "mlm" signature, {"train"} and set()).
    export_dir: where the trained module is written (must not exist).
    train_sequences, eval_sequences: int32 [n, max_seq_length] from `pack`.
    vocab_size: the vocabulary's size (random replacements are drawn from its wordpieces).
    steps: training steps; 0 exports the random initialization.

  Returns:
    {"mlm_accuracy_before", "mlm_accuracy_after": masked-wordpiece accuracy on eval_sequences,
     "most_frequent_accuracy": that of always guessing the corpus' most frequent wordpiece,
     "train_seconds": time spent in the training steps}.
  """
  max_predictions = int(np.ceil(MASK_RATE * (train_sequences.shape[1] - 2)))
  eval_batch = mask(eval_sequences, np.random.RandomState(seed + 1), vocab_size, max_predictions)
  eval_batches = [[a[i:i + 256] for a in eval_batch] for i in range(0, len(eval_sequences), 256)]
  metrics = dict(most_frequent_accuracy=_most_frequent_accuracy(train_sequences, eval_batch))
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)
    train_module = hub.Module(spec, trainable=True, tags={"train"}, name="bert")
    eval_module = hub.Module(spec, tags=set(), name="bert_eval")
    inputs = [tf.compat.v1.placeholder(tf.int32, [None, None]) for _ in range(3)]
    inputs.append(tf.compat.v1.placeholder(tf.float32, [None, None]))
    losses, _ = _mlm_outputs(train_module, inputs)
    loss = (tf.reduce_sum(losses * inputs[3]) / tf.maximum(tf.reduce_sum(inputs[3]), 1.0) +
            tf.compat.v1.losses.get_regularization_loss())
    train_op = _train_op(loss, learning_rate, steps)
    # The inference variant has its own variables; the trained weights are copied in to evaluate.
    copy = examples_pretrain.copy_variables(train_module, eval_module)
    _, correct = _mlm_outputs(eval_module, inputs)
    rng = np.random.RandomState(seed)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(copy)
      metrics["mlm_accuracy_before"] = _accuracy(session, inputs, correct, eval_batches)
      start = time.time()
      for step in range(1, steps + 1):
        batch = mask(train_sequences[rng.randint(0, len(train_sequences), batch_size)], rng,
                     vocab_size, max_predictions)
        _, value = session.run([train_op, loss], dict(zip(inputs, batch)))
        if step % max(1, steps // 10) == 0:
          print(f"step {step}/{steps}: mlm loss {value:.3f}", flush=True)
      metrics["train_seconds"] = time.time() - start
      session.run(copy)
      metrics["mlm_accuracy_after"] = _accuracy(session, inputs, correct, eval_batches)
      train_module.export(export_dir, session)
  return metrics
