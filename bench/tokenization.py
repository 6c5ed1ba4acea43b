"""Is tokenizing in the input pipeline a bottleneck? Tokenization throughput next to training
throughput, in one run.

  .venv/bin/python bench/tokenization.py [--module=build/bert/modules/bert_pretrained]
      [--batch_size=32] [--steps=300]

(a) sentences per second through `bert_tokenization` alone (tf.data, graph mode), single
texts and pairs, at the training batch size and at 256; (b) examples per second of training
the BERT-style classifier (configs/text/bert_classifier.gin) on the same module, with the
tokenizer in its pipeline. Without --module, a tiny untrained module is built first.
"""

import csv
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from finetune import logs  # noqa: E402

logs.quiet_tensorflow_before_import(False)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_string("module", None, "A BERT-style module (default: build a tiny one).")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("steps", 300, "Training steps for (b).")
FLAGS = flags.FLAGS
TEXT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                    "text", "data", "task_train.csv")


def lines():
  with open(TEXT) as f:
    return [row["text"] for row in csv.DictReader(f)]


def tokenization_rate(handle, texts, batch_size, pairs, repeats=20):
  """Sentences (or pairs) per second through the tokenizer in a tf.data pipeline."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from finetune.inputs.tokenization import BertTokenization  # pylint: disable=g-import-not-at-top
  from finetune.modules.hub_module import HubModule  # pylint: disable=g-import-not-at-top
  columns = ["a", "b"] if pairs else ["a"]
  tokenization = BertTokenization(columns, max_seq_length=64)
  tokenization.adapt_to_module(HubModule(handle=handle, signature="tokens"))
  data = {"a": texts, "b": texts[::-1]} if pairs else {"a": texts}
  with tf.Graph().as_default():
    dataset = tf.data.Dataset.from_tensor_slices(data).repeat(repeats).batch(batch_size)
    dataset = dataset.map(tokenization).prefetch(tf.data.AUTOTUNE)
    batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    with tf.compat.v1.Session() as session:
      session.run(batch)  # warm-up
      count, start = 0, time.time()
      try:
        while True:
          count += len(session.run(batch)["input_ids"])
      except tf.errors.OutOfRangeError:
        pass
  return count / (time.time() - start)


def training_rate(handle, batch_size, steps):
  """Examples per second of fine-tuning the classifier, tokenizer in the pipeline."""
  from finetune import api  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class Clock(tf.compat.v1.train.SessionRunHook):

    def after_create_session(self, session, coord):
      self.start = time.time()

  clock = Clock()
  model_dir = tempfile.mkdtemp()
  api.train(["text/bert_classifier.gin"], [
      f"MODULE_HANDLE = '{handle}'", f"TRAIN_STEPS = {steps}", "MAX_SEQ_LENGTH = 64",
      f"csv_data.batch_size = {batch_size}", "run_config.save_checkpoints_steps = 100000"
  ], model_dir=model_dir, schedule="train", hooks=[clock])
  return steps * batch_size / (time.time() - clock.start)


def main(argv):
  del argv
  logs.configure(False)
  handle = FLAGS.module
  if handle is None:
    from tests import builders  # pylint: disable=g-import-not-at-top
    handle = builders.build_bert_module(os.path.join(tempfile.mkdtemp(), "bert"), lines(),
                                        hidden=64, layers=2, intermediate=128)
  texts = lines()
  print("| what | batch | per second |\n|---|---|---|")
  for batch in (FLAGS.batch_size, 256):
    for pairs in (False, True):
      rate = tokenization_rate(handle, texts, batch, pairs)
      print(f"| tokenization, {'pairs' if pairs else 'single texts'} | {batch} | {rate:,.0f} |")
  rate = training_rate(handle, FLAGS.batch_size, FLAGS.steps)
  print(f"| training (examples/s, tokenizer in the pipeline) | {FLAGS.batch_size} | {rate:,.0f} |")


if __name__ == "__main__":
  app.run(main)
