"""The command: a file of word vectors -> a text-embedding module (TF1 Hub format or TF2).

  python -m finetune.export_embedding --embedding_file=glove.6B.50d.txt \
      --export_path=build/glove_50d [--num_oov_buckets=1] [--num_lines_to_ignore=0] \
      [--num_lines_to_use=N] [--vocabulary_file=WORDS (.npy only)] [--nolowercase] \
      [--punctuation=space|split|keep] [--l2_regularization=1e-5 [--l2_rows=used|all]] \
      [--dropout=0.1] [--format=tf1|tf2] [--verbose]

The module's "default" signature takes sentences and returns their embeddings, as the TF1
Hub guide's text-embedding exporter writes it; fine-tune it with hub_module.handle = DIR.
"""

import sys

from finetune import command
from finetune import logs

logs.quiet_tensorflow_before_import("--verbose" in sys.argv)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_string("embedding_file", None, "The word vectors: GloVe/word2vec text (.txt, "
                    ".vec, gzipped or not), word2vec binary (.bin), or a .npy matrix.")
flags.DEFINE_string("export_path", None, "A new folder for the module.")
flags.DEFINE_string("vocabulary_file", None, "The words of a .npy matrix, in row order: one "
                    "per line, or a .parquet file with one string column.")
flags.DEFINE_enum("input_format", "auto", ["auto", "text", "word2vec_binary", "npy"],
                  "How to read --embedding_file (auto: by its name).")
flags.DEFINE_integer("num_oov_buckets", 1, "Rows for words outside the vocabulary (hashed).")
flags.DEFINE_integer("num_lines_to_ignore", 0, "Lines at the start of the file to skip "
                     "(word2vec's `count dim` header is recognised without this).")
flags.DEFINE_integer("num_lines_to_use", None, "How many vectors to read after those "
                     "(default: all). Files are usually sorted by frequency.")
flags.DEFINE_bool("lowercase", True, "Lower-case sentences before looking words up (GloVe's "
                  "words are lower case; turn off for cased vectors such as word2vec's).")
flags.DEFINE_enum("punctuation", "space", ["space", "split", "keep"],
                  "Punctuation and symbols become spaces, words of their own, or stay.")
flags.DEFINE_float("l2_regularization", 0.0, "Weight of an L2 penalty on the vectors when "
                   "fine-tuned (0: none).")
flags.DEFINE_enum("l2_rows", "used", ["used", "all"], "Penalize the rows a batch uses (sparse "
                  "gradients) or the whole table.")
flags.DEFINE_float("dropout", 0.0, "Dropout on the sentence embedding in a {\"train\"} graph "
                   "variant (0: no such variant).")
flags.DEFINE_enum("format", "tf1", ["tf1", "tf2"], "TF1 Hub format, or a reusable TF2 "
                  "SavedModel.")
flags.DEFINE_bool("verbose", False, "Show TensorFlow's logs and full tracebacks.")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  return command.run(_export, FLAGS.verbose)


def _export():
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  if not FLAGS.embedding_file:
    raise FinetuneError("Pass --embedding_file=F, the word vectors to publish.")
  published = api.export_embedding(FLAGS.embedding_file,
                                   FLAGS.export_path,
                                   vocabulary_file=FLAGS.vocabulary_file,
                                   input_format=FLAGS.input_format,
                                   num_oov_buckets=FLAGS.num_oov_buckets,
                                   num_lines_to_ignore=FLAGS.num_lines_to_ignore,
                                   num_lines_to_use=FLAGS.num_lines_to_use,
                                   lowercase=FLAGS.lowercase,
                                   punctuation=FLAGS.punctuation,
                                   l2_regularization=FLAGS.l2_regularization,
                                   l2_rows=FLAGS.l2_rows,
                                   dropout=FLAGS.dropout,
                                   module_format=FLAGS.format,
                                   verbose=FLAGS.verbose)
  print(f"Wrote {published.export_path} ({published.module_format}): "
        f"{published.words:,} words of dim {published.dim}, {published.num_oov_buckets} "
        "out-of-vocabulary bucket(s).")
  if published.unreachable_words:
    print(f"Note: words with capital letters ({published.unreachable_words:,}) are never looked "
          "up, since the module lower-cases sentences; pass --nolowercase for cased vectors.")
  print(f"Fine-tune it with: hub_module.handle = \"{published.export_path}\"")
  return 0


def run():
  """Console-script entry point (`finetune-export-embedding`)."""
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run()
