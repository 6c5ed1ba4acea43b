"""Builds the BERT example: a WordPiece vocabulary and two BERT-style modules that share it.

  python -m examples.bert.build --output_dir=build/bert

reads the shipped docstring corpus (data/corpus.txt.gz, written by make_data.py), learns a
lower-cased WordPiece vocabulary from its training docstrings (vocab.py), pretrains
module.create_spec(...) by masked-language modelling (pretrain.py) and writes

  OUTPUT_DIR/vocab.txt                  the vocabulary (each module carries a copy as an asset)
  OUTPUT_DIR/modules/bert_pretrained/   the pretrained encoder ("tokens", "mlm",
                                        "tokenization_info" signatures)
  OUTPUT_DIR/modules/bert_untrained/    same vocabulary and architecture, random weights: the
                                        from-scratch baseline
  OUTPUT_DIR/pretraining.json           masked-wordpiece accuracy before and after, settings

The fine-tuning tasks stay in data/ (pairs_*.csv: same area or not; tags_*.csv: a tag per
word); `build` returns their paths with the rest. `--tiny` (build(..., **TINY)) makes a
small version in seconds, for tests.
"""

import json
import os
import shutil
import sys

from absl import app
from absl import flags

from examples.bert import make_data
from examples.bert import module as bert_module
from examples.bert import pretrain
from examples.bert import vocab as bert_vocab

FLAGS = flags.FLAGS
MAX_SEQ_LENGTH = 64
TINY = dict(steps=20,
            hidden=16,
            layers=1,
            heads=1,
            intermediate=32,
            vocab_size=1000,
            max_documents=300)
MODULES = ("bert_pretrained", "bert_untrained")


def data_paths():
  """{name: path} of the shipped fine-tuning CSVs (pairs_train, pairs_eval, tags_*)."""
  return {
      f"{task}_{split}": os.path.join(make_data.DATA_DIR, f"{task}_{split}.csv")
      for task in ("pairs", "tags") for split in ("train", "eval")
  }


def _export_atomically(path, export):
  """Runs export(tmp_dir), then moves tmp_dir to path: no half-written module on failure."""
  shutil.rmtree(path + ".tmp", ignore_errors=True)
  result = export(path + ".tmp")
  shutil.rmtree(path, ignore_errors=True)
  os.rename(path + ".tmp", path)
  print(f"{os.path.basename(path)}: exported to {path}", flush=True)
  return result


def _vocabulary_and_sequences(vocab_path, vocab_size, max_documents):
  """Learns the vocabulary from the training docstrings (written to vocab_path) and packs the
  corpus with it: (vocabulary, train_sequences, held-out sequences)."""
  if not os.path.exists(make_data.CORPUS):
    make_data.main()
  os.makedirs(os.path.dirname(vocab_path) or ".", exist_ok=True)
  train, held_out = pretrain.split_documents(
      pretrain.read_documents(make_data.CORPUS, max_documents))
  vocabulary = bert_vocab.learn([s for d in train for s in d], vocab_size)
  bert_vocab.write(vocabulary, vocab_path)
  train_sequences, eval_sequences = (
      pretrain.pack(d, vocabulary, MAX_SEQ_LENGTH) for d in (train, held_out))
  print(
      f"vocabulary: {len(vocabulary)} wordpieces; sequences: {len(train_sequences)} train, "
      f"{len(eval_sequences)} held out",
      flush=True)
  return vocabulary, train_sequences, eval_sequences


def _record(path, metrics, settings):
  """Prints the pretraining's effect and writes it with the settings to path (json)."""
  print(f"masked-wordpiece accuracy on held-out docstrings: "
        f"{metrics['mlm_accuracy_before']:.3f} before, {metrics['mlm_accuracy_after']:.3f} "
        f"after {settings['steps']} steps ({metrics['train_seconds']:.0f} s); always the most "
        f"frequent wordpiece: {metrics['most_frequent_accuracy']:.3f}")
  with open(path, "w") as f:
    json.dump(dict(metrics, **settings), f, indent=2, sort_keys=True)


def build(output_dir,
          steps=3000,
          hidden=64,
          layers=2,
          heads=2,
          intermediate=128,
          vocab_size=3000,
          max_documents=None,
          batch_size=32,
          learning_rate=2e-3,
          seed=0,
          force=False):
  """Writes the vocabulary and both modules under output_dir (unless they exist).

  Args:
    output_dir: where vocab.txt, modules/ and pretraining.json go.
    steps, batch_size, learning_rate: masked-language-model training (steps=0 exports the
      initialization).
    hidden, layers, heads, intermediate: the encoder's size (module.create_spec).
    vocab_size: the most wordpieces the vocabulary may have (the learner keeps pieces seen
      at least 10 times, so a small corpus gives fewer).
    max_documents: use only the first that many docstrings of the corpus (the tiny build).
    force: rebuild even if both modules exist.

  Returns:
    {name: path} for "bert_pretrained", "bert_untrained", "vocab", "pretraining" (the json),
    "pairs_train", "pairs_eval", "tags_train", "tags_eval".
  """
  paths = {name: os.path.join(output_dir, "modules", name) for name in MODULES}
  paths.update(vocab=os.path.join(output_dir, "vocab.txt"),
               pretraining=os.path.join(output_dir, "pretraining.json"),
               **data_paths())
  if not force and all(os.path.exists(os.path.join(paths[m], "tfhub_module.pb")) for m in MODULES):
    print(f"modules exist in {output_dir}/modules (--force rebuilds them)")
    return paths
  vocabulary, train_sequences, eval_sequences = _vocabulary_and_sequences(
      paths["vocab"], vocab_size, max_documents)
  architecture = dict(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate)
  spec = bert_module.create_spec(paths["vocab"], do_lower_case=True, **architecture)
  metrics = _export_atomically(
      paths["bert_pretrained"], lambda path: pretrain.pretrain_and_export(
          spec, path, train_sequences, eval_sequences, len(vocabulary), steps, batch_size,
          learning_rate, seed))
  _export_atomically(
      paths["bert_untrained"],
      lambda path: bert_module.export_untrained(path, paths["vocab"], seed=seed, **architecture))
  _record(
      paths["pretraining"], metrics,
      dict(architecture,
           steps=steps,
           batch_size=batch_size,
           learning_rate=learning_rate,
           vocab_size=len(vocabulary),
           max_seq_length=MAX_SEQ_LENGTH,
           max_documents=max_documents,
           seed=seed,
           train_sequences=len(train_sequences),
           eval_sequences=len(eval_sequences)))
  return paths


def main(argv):
  del argv
  sizes = dict(steps=FLAGS.steps,
               hidden=FLAGS.hidden,
               layers=FLAGS.layers,
               heads=FLAGS.heads,
               intermediate=FLAGS.intermediate,
               vocab_size=FLAGS.vocab_size)
  build(FLAGS.output_dir, force=FLAGS.force, **(TINY if FLAGS.tiny else sizes))


if __name__ == "__main__":
  flags.DEFINE_string("output_dir", "build/bert", "Where vocab.txt and modules/ go.")
  flags.DEFINE_integer("steps", 3000, "Masked-language-model training steps.")
  flags.DEFINE_integer("hidden", 64, "Hidden size of the encoder.")
  flags.DEFINE_integer("layers", 2, "Transformer layers.")
  flags.DEFINE_integer("heads", 2, "Attention heads.")
  flags.DEFINE_integer("intermediate", 128, "Feed-forward size.")
  flags.DEFINE_integer("vocab_size", 3000, "Most wordpieces in the vocabulary.")
  flags.DEFINE_bool("tiny", False, "A small, fast build for tests (ignores the size flags).")
  flags.DEFINE_bool("force", False, "Rebuild modules that exist.")
  sys.exit(app.run(main))
