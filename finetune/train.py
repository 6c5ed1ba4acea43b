"""The command: flags -> api.train (gin -> experiment.run). Nothing else lives here.

  python -m finetune.train --gin_file=digits/finetune.gin --model_dir=runs/digits \
      [--gin_file=more.gin ...] [--gin_bindings='training.train_steps = 500' ...] \
      [--schedule=train_and_evaluate|train|evaluate|export|predict] [--verbose]
  python -m finetune.train --model_dir=runs/digits --schedule=predict \
      --predict_files='new/*.csv' [--predict_output=predictions.csv] [--checkpoint=best]
"""

import sys

from finetune import command
from finetune import logs

logs.quiet_tensorflow_before_import("--verbose" in sys.argv)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_multi_string("gin_file", None,
                          "Gin config file; repeat to compose, later files override earlier.")
flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin binding, e.g. 'training.train_steps = 10'"
    "; overrides the files.")
flags.DEFINE_string("model_dir", None, "Output directory (default: runs/<last config name>).")
flags.DEFINE_enum("schedule", "train_and_evaluate",
                  ["train_and_evaluate", "train", "evaluate", "export", "predict", "check"],
                  "What to run; check: every check and the training graph, nothing written.")
flags.DEFINE_multi_string("predict_files", None,
                          "With --schedule=predict: files to predict on (a path, glob pattern "
                          "or folder of images; repeat for more). Without: the eval set.")
flags.DEFINE_string("predict_output", None,
                    "Where --predict_files' predictions go: a .jsonl or .csv path, local or "
                    "gs:// (default MODEL_DIR/predictions.jsonl).")
flags.DEFINE_string("checkpoint", None,
                    "With --schedule=predict: latest, best (the default when "
                    "evaluation.best_export_metric is set) or a checkpoint path.")
flags.DEFINE_bool("allow_gin_imports", False,
                  "Let the configs' `import` lines import modules other than finetune's.")
flags.DEFINE_bool("verbose", False, "Show TensorFlow's logs and full tracebacks.")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from finetune.trials import children  # pylint: disable=g-import-not-at-top
  # A sweep's trial dies with its sweep (SIGTERM when the sweep dies).
  return command.run(_train, FLAGS.verbose, before=children.die_with_parent)


def _train():
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.outputs import summary  # pylint: disable=g-import-not-at-top
  result = api.train(FLAGS.gin_file,
                     FLAGS.gin_bindings,
                     model_dir=FLAGS.model_dir,
                     schedule=FLAGS.schedule,
                     command_line=["python", "-m", "finetune.train"] + sys.argv[1:],
                     verbose=FLAGS.verbose,
                     allow_gin_imports=FLAGS.allow_gin_imports,
                     predict_files=FLAGS.predict_files,
                     predict_output=FLAGS.predict_output,
                     checkpoint=FLAGS.checkpoint)
  summary.print_summary(result)
  return 0


def run():
  """Console-script entry point (`finetune-train`)."""
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run()
