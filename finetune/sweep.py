"""The command: run a hyperparameter sweep, print its commands, or collect its results.

  python -m finetune.sweep --gin_file=digits/finetune.gin --sweep_dir=runs/sweep \
      --grid="MODULE_HANDLE=['build/modules/digits_pretrained', 'build/modules/digits_untrained']" \
      --grid='LEARNING_RATE=[0.003, 0.01]' [--zip] [--sweep_file=F.json|F.gin] \
      [--parallel=2] [--dry_run] [--collect] [--metric=accuracy] [--lower_is_better]

  python -m finetune.sweep --gin_file=digits/finetune.gin --sweep_dir=runs/search \
      --search=tpe --trials=16 --space='LEARNING_RATE=loguniform(1e-4, 1e-1)' \
      --space="MODULE_HANDLE=choice(['build/modules/digits_pretrained', ...])" \
      [--pruner=median|halving|hyperband|none] [--storage=URL|PATH] [--parallel=2]
"""

import os
import shlex
import sys

from finetune import command
from finetune import logs

logs.quiet_tensorflow_before_import("--verbose" in sys.argv)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_multi_string("gin_file", [], "Base gin config(s) of every trial.")
flags.DEFINE_multi_string("gin_bindings", [], "Bindings for every trial.")
flags.DEFINE_string("sweep_dir", None, "Where trials and results go.")
flags.DEFINE_multi_string("grid", [], "PARAM=[v1, v2, ...]; repeat for more parameters.")
flags.DEFINE_string("sweep_file", None, "Grids from a .json or gin-style file.")
flags.DEFINE_bool("zip", False, "Pair the grids' values instead of the cross product.")
flags.DEFINE_integer("parallel", 1, "Trials run at once (each gets cores/parallel threads).")
flags.DEFINE_bool("dry_run", False, "Print one command per trial instead of running.")
flags.DEFINE_bool("collect", False, "Only build results from existing trial directories.")
flags.DEFINE_string("metric", "accuracy", "Eval metric the trials are ranked by.")
flags.DEFINE_bool("lower_is_better", False, "Rank by the smallest metric (e.g. loss).")
flags.DEFINE_enum("search", None, ["tpe", "random", "grid"],
                  "Search with an Optuna study instead of running the whole grid: tpe or random "
                  "over --space, or grid (Optuna's GridSampler over --grid).")
flags.DEFINE_integer("trials", None, "The study's total number of trials (workers stop there).")
flags.DEFINE_multi_string("space", [], "PARAM=loguniform(a, b) | uniform(a, b) | int(a, b) | "
                          "choice([v1, v2]); repeat for more parameters.")
flags.DEFINE_enum("pruner", "median", ["median", "halving", "hyperband", "none"],
                  "What stops a search's bad trials after an evaluation.")
flags.DEFINE_integer("startup_trials", None, "Random, unpruned trials before the study's "
                     "history is used (default: a quarter of --trials, 2 to 10).")
flags.DEFINE_string("storage", None, "The study: an RDB URL (sqlite:///F, postgresql://...) "
                    "or a journal file path (default SWEEP_DIR/study.journal).")
flags.DEFINE_string("study_name", None, "Default: the sweep directory's name.")
flags.DEFINE_bool("allow_gin_imports", False,
                  "Let the configs' `import` lines import modules other than finetune's.")
flags.DEFINE_bool("verbose", False, "Full tracebacks.")
FLAGS = flags.FLAGS


def _grids():
  from finetune.trials import grid  # pylint: disable=g-import-not-at-top
  grids, zipped = [grid.parse_grid(g) for g in FLAGS.grid], FLAGS.zip
  if FLAGS.sweep_file:
    file_grids, file_zip = grid.read_sweep_file(FLAGS.sweep_file)
    grids, zipped = grids + file_grids, zipped or file_zip
  return grids, zipped


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Ctrl-C and a scheduler's SIGTERM unwind the sweep, which stops each running trial with one
  # SIGTERM (a checkpoint at its current step), instead of dying and leaving them running.
  running = not (FLAGS.collect or FLAGS.dry_run)
  return command.run(_sweep, FLAGS.verbose, phase=("running the sweep", _RESUME) if running
                     else None)


_RESUME = ("Its running trials were stopped (in training, with a checkpoint at their current "
           "step); run the same command to resume the sweep.")


def _sweep():
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  higher = not FLAGS.lower_is_better
  if not FLAGS.sweep_dir:
    raise FinetuneError("Pass --sweep_dir=DIR.")
  if FLAGS.parallel < 1:
    raise FinetuneError(f"--parallel is the number of trials run at once: 1 or more, got "
                        f"{FLAGS.parallel}.")
  if not FLAGS.search and (FLAGS.space or FLAGS.trials is not None):
    raise FinetuneError(f"{'--space' if FLAGS.space else '--trials'} belongs to a search: add "
                        "--search=tpe (or random), or sweep a grid with --grid='PARAM=[v1, v2]'.")
  if FLAGS.search and not FLAGS.collect:
    if FLAGS.zip:
      raise FinetuneError("--zip pairs a grid's values; --search=grid takes their cross "
                          "product (Optuna's GridSampler): drop --zip.")
    if FLAGS.dry_run:
      raise FinetuneError("--dry_run prints a grid's trials; a search picks its trials as it "
                          "runs: start the same command on every host instead (each one is a "
                          "worker of the study).")
    grids = _grids()[0] if FLAGS.grid or FLAGS.sweep_file else ()
    rows = api.search(FLAGS.gin_file, FLAGS.sweep_dir, FLAGS.space, FLAGS.trials, FLAGS.search,
                      grids, FLAGS.gin_bindings, FLAGS.pruner, FLAGS.parallel,
                      FLAGS.metric if FLAGS["metric"].present else None,
                      not FLAGS.lower_is_better if FLAGS["lower_is_better"].present else None,
                      FLAGS.storage, FLAGS.study_name, FLAGS.startup_trials,
                      verbose=FLAGS.verbose, allow_gin_imports=FLAGS.allow_gin_imports)
  elif FLAGS.collect:  # the grid flags, if given, name the planned trials
    grids, zipped = _grids() if FLAGS.grid or FLAGS.sweep_file else (None, False)
    rows = api.collect(FLAGS.sweep_dir, FLAGS.metric, higher, grids, zipped)
  else:
    grids, zipped = _grids()
    rows = api.sweep(FLAGS.gin_file, FLAGS.sweep_dir, grids, FLAGS.gin_bindings, zipped,
                     FLAGS.parallel, FLAGS.metric, higher, dry_run=FLAGS.dry_run,
                     verbose=FLAGS.verbose, allow_gin_imports=FLAGS.allow_gin_imports)
    if FLAGS.dry_run:
      print("\n".join(shlex.join(line) for line in rows))
      return 0
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (loaded by api already)
  paths = [os.path.join(FLAGS.sweep_dir, f"results.{kind}") for kind in ("csv", "md", "png")]
  paths.append(os.path.join(FLAGS.sweep_dir, "tensorboard"))
  with tf.io.gfile.GFile(paths[1]) as f:  # gs:// sweep dirs too
    print(f.read())
  print("Results: " + ", ".join(p for p in paths if tf.io.gfile.exists(p)))
  print(f"HParams dashboard: tensorboard --logdir {paths[-1]}")
  done = [r for r in rows if r["state"] in ("done", "pruned") and r["metrics"]]
  return 1 if len(done) < len(rows) and not done else 0


def run():
  """Console-script entry point (`finetune-sweep`)."""
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run()
