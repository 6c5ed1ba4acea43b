"""Several modules against each one alone, and a shared module's pair features against plain
concatenation: the figures of the README's "Several modules" section.

  python -m examples.multi.compare [--runs_dir=runs/multi_compare] [--repeats=3]
      [--tasks=encoders,pairs] [--keep_runs]

encoders: configs/multi/two_encoders.gin (GloVe 6B 50d and the docstring embedding, side by
  side) against glove/finetune.gin with each of the two modules alone: the same task, data,
  head, steps and seeds, only the module(s) differ.
pairs: configs/multi/sentence_pairs.gin (GloVe applied to both sentences, one set of weights)
  with combine = "pair" ([u, v, |u - v|, u * v]) and "concat" ([u, v]).
Each seed sets the shuffle and the head's initialization; every run is evaluated on the same
held-out rows. Prints a Markdown table per task (mean, min and max accuracy over the seeds).
Builds the modules it needs under build/ when they are missing.
"""

import os
import shutil

from absl import app
from absl import flags

from finetune import logs

logs.quiet_tensorflow_before_import(False)

from examples import compare_table  # noqa: E402
from examples.glove import build as glove_build  # noqa: E402
from examples.text import build as text_build  # noqa: E402
from finetune import api  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("runs_dir", "runs/multi_compare", "Where the runs go (removed once read).")
flags.DEFINE_integer("repeats", 3, "Seeds per setting.")
flags.DEFINE_list("tasks", ["encoders", "pairs"], "encoders, pairs.")
flags.DEFINE_bool("keep_runs", False, "Keep each run's model_dir.")


def settings(task, modules):
  """[(label, gin file, bindings)] of one task."""
  glove, docstrings = modules["glove_6b_50d"], modules["docstring_embedding"]
  if task == "encoders":
    return [("GloVe alone", "glove/finetune.gin", [f"MODULE_HANDLE = '{glove}'"]),
            ("docstring embedding alone", "glove/finetune.gin",
             [f"MODULE_HANDLE = '{docstrings}'"]),
            ("both, concatenated", "multi/two_encoders.gin",
             [f"MODULE_HANDLE = '{glove}'", f"DOCSTRING_HANDLE = '{docstrings}'"])]
  return [(f"GloVe on both sentences, combine = \"{how}\"", "multi/sentence_pairs.gin",
           [f"MODULE_HANDLE = '{glove}'", f"hub_module.combine = '{how}'"])
          for how in ("pair", "concat")]


def compare(task, modules, runs_dir, repeats, keep_runs=False):
  """[(label, [accuracy per seed])] of one task."""
  results = []
  for label, gin_file, bindings in settings(task, modules):
    accuracies = []
    for seed in range(repeats):
      model_dir = os.path.join(runs_dir, f"{task}_{len(results)}_{seed}")
      seeds = [f"run_config.random_seed = {seed}", f"csv_data.seed = {seed}"]
      result = api.train([gin_file], bindings + seeds, model_dir=model_dir)
      accuracies.append(result.metrics["accuracy"])
      print(f"{label}, seed {seed}: {accuracies[-1]:.3f}", flush=True)
      if not keep_runs:
        shutil.rmtree(model_dir, ignore_errors=True)
    results.append((label, accuracies))
  return results


def main(argv):
  del argv
  logs.configure(False)
  modules = dict(glove_build.build("build/glove"))
  modules.update(text_build.build("build/text"))
  for task in FLAGS.tasks:
    table = compare_table.markdown(compare(task, modules, FLAGS.runs_dir, FLAGS.repeats,
                                           FLAGS.keep_runs))
    print(f"\n{task}:\n{table}\n", flush=True)


if __name__ == "__main__":
  app.run(main)
