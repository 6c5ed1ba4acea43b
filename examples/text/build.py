"""Builds the text example's embedding module from the shipped docstring corpus.

  python -m examples.text.build --output_dir=build/text

writes modules/docstring_embedding/ (vocabulary of 3,000 tokens as an asset, 32-dim PPMI-SVD
embeddings pretrained on data/corpus.txt) and modules/random_embedding/ (same vocabulary,
random embeddings: the "from scratch" baseline). configs/text/*.gin fine-tune them to tell
which area of the standard library (math, text, files, network) a docstring comes from.
"""

import os
import shutil
import sys

from absl import app
from absl import flags
import numpy as np

from examples.text import module as text_module

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FLAGS = flags.FLAGS


def build(output_dir, vocab_size=3000, dim=32, force=False):
  """Exports both modules under output_dir/modules; returns {name: path}."""
  with open(os.path.join(DATA_DIR, "corpus.txt")) as f:
    corpus = [line.strip() for line in f if line.strip()]
  vocabulary = text_module.build_vocabulary(corpus, vocab_size)
  paths = {}
  for name in ("docstring_embedding", "random_embedding"):
    path = paths[name] = os.path.join(output_dir, "modules", name)
    if os.path.exists(os.path.join(path, "tfhub_module.pb")) and not force:
      continue
    if name == "docstring_embedding":
      embeddings = text_module.pretrain_embeddings(corpus, vocabulary, dim)
    else:
      embeddings = np.random.RandomState(1).normal(0, 0.1, (len(vocabulary), dim))
    shutil.rmtree(path + ".tmp", ignore_errors=True)
    text_module.export(path + ".tmp", vocabulary, embeddings.astype(np.float32))
    shutil.rmtree(path, ignore_errors=True)
    os.rename(path + ".tmp", path)
    print(f"{name}: exported to {path}")
  return paths


def main(argv):
  del argv
  build(FLAGS.output_dir, FLAGS.vocab_size, force=FLAGS.force)


if __name__ == "__main__":
  flags.DEFINE_string("output_dir", "build/text", "Where the modules go.")
  flags.DEFINE_integer("vocab_size", 3000, "Vocabulary size (including the empty token).")
  flags.DEFINE_bool("force", False, "Rebuild modules that exist.")
  sys.exit(app.run(main))
