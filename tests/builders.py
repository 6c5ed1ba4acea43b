"""Tiny modules and data for the tests, built in-process (tensorflow-hub's own tests do the same).

The digits module (examples/digits/module.py) is small enough to pretrain in a second; the
builders here shrink it further and shape the data the tests feed it.
"""

import os
import shutil
import tarfile

import numpy as np

from examples.digits import dataset
from examples.digits import module as digits_module

DIGITS_DATA = dataset.DATA_DIR


def digits_arrays(split="pretrain"):
  """(pixels [n, 64] float32, labels [n]) of a shipped digits split."""
  files = {
      "pretrain": ("pretrain.csv", "label"),
      "train": ("finetune_train.csv", "parity"),
      "eval": ("finetune_eval.csv", "parity")
  }
  name, label_column = files[split]
  return dataset.read_csv(name, label_column)


def build_digits_module(path, steps=100, all_digits=False, **module_kwargs):
  """Pretrains (steps > 0) or just initializes a small digits module on digits 0-4 (or all)."""
  pixels, labels = digits_arrays("pretrain")
  low = labels < (10 if all_digits else 5)
  kwargs = dict(hidden_units=16, feature_dim=8)
  kwargs.update(module_kwargs)
  digits_module.pretrain_and_export(path, pixels[low], labels[low], steps=steps, **kwargs)
  return path


def finetune_arrays(n_train=60, n_eval=100):
  """A new task for the tests' modules: digits 5-9 as classes 0-4, ArrayData inputs."""
  pixels, labels = digits_arrays("pretrain")
  high = labels >= 5
  pixels, labels = pixels[high], labels[high] - 5
  return (({
      "pixels": pixels[:n_train]
  }, labels[:n_train]), ({
      "pixels": pixels[n_train:n_train + n_eval]
  }, labels[n_train:n_train + n_eval]))


def random_pixels(n=8, seed=0):
  return np.random.RandomState(seed).randint(0, 17, size=(n, 64)).astype(np.float32)


def bert_vocabulary(path, lines, size=400):
  """A WordPiece vocabulary from `lines`: BERT's special tokens, every letter (alone and as a
  continuation), then the most frequent lower-cased words and punctuation."""
  import collections  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  from examples.bert import module as bert_module  # pylint: disable=g-import-not-at-top
  words = collections.Counter(w for line in lines for w in re.findall(r"\w+|[^\w\s]", line.lower()))
  letters = sorted({c for w in words for c in w})
  vocab = list(bert_module.SPECIAL_TOKENS) + letters + [f"##{c}" for c in letters]
  vocab += [w for w, _ in words.most_common() if w not in vocab][:max(size - len(vocab), 0)]
  with open(path, "w") as f:
    f.write("\n".join(vocab) + "\n")
  return path


def build_bert_module(path, lines, vocab_size=400, seed=0, **module_kwargs):
  """An untrained tiny BERT-style module (examples/bert/module.py) with a vocabulary of
  `lines`; returns its path."""
  from examples.bert import module as bert_module  # pylint: disable=g-import-not-at-top
  os.makedirs(path + "_vocab", exist_ok=True)
  vocab = bert_vocabulary(os.path.join(path + "_vocab", "vocab.txt"), lines, vocab_size)
  kwargs = dict(hidden=16, layers=1, heads=2, intermediate=32, max_position=64)
  kwargs.update(module_kwargs)
  return bert_module.export_untrained(path, vocab, seed=seed, **kwargs)


def make_tarball(module_dir, path):
  """A .tar.gz of a module folder, its files at the top, as publishers serve them."""
  with tarfile.open(path, "w:gz") as tar:
    for name in sorted(os.listdir(module_dir)):
      tar.add(os.path.join(module_dir, name), arcname=name)
  return path


def damaged_copy(module, path, damage):
  """A copy of `module` without its variables/ folder, or with its data file cut in half."""
  shutil.copytree(module, path)
  variables = os.path.join(path, "variables")
  if damage == "missing":
    shutil.rmtree(variables)
  else:
    (data,) = [os.path.join(variables, f) for f in os.listdir(variables) if ".data-" in f]
    with open(data, "r+b") as f:
      f.truncate(os.path.getsize(data) // 2)
  return str(path)
