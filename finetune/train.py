"""The command: flags -> gin -> experiment.run. Nothing else lives here.

  python -m finetune.train --gin_file=digits/finetune.gin --model_dir=runs/digits \
      [--gin_file=more.gin ...] [--gin_bindings='experiment.train_steps = 500' ...] \
      [--schedule=train_and_evaluate|train|evaluate|export|predict] [--verbose]
"""

import os
import re
import signal
import sys

from finetune import logs

logs.quiet_tensorflow_before_import("--verbose" in sys.argv)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_multi_string("gin_file", None,
                          "Gin config file; repeat to compose, later files override earlier.")
flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin binding, e.g. 'experiment.train_steps = 10'"
    "; overrides the files.")
flags.DEFINE_string("model_dir", None, "Output directory (default: runs/<last config name>).")
flags.DEFINE_enum("schedule", "train_and_evaluate",
                  ["train_and_evaluate", "train", "evaluate", "export", "predict"], "What to run.")
flags.DEFINE_bool("verbose", False, "Show TensorFlow's logs and full tracebacks.")
FLAGS = flags.FLAGS


def default_model_dir(gin_files):
  if not gin_files:
    return None
  return os.path.join("runs", os.path.splitext(os.path.basename(gin_files[-1]))[0])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  logs.configure(FLAGS.verbose)
  from finetune import config, experiment, faults, summary  # pylint: disable=g-import-not-at-top
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top

  # Schedulers pre-empt with SIGTERM: finish the step, save a checkpoint, then stop.
  signal.signal(signal.SIGTERM, faults.request_stop)

  model_dir = FLAGS.model_dir or default_model_dir(FLAGS.gin_file)
  try:
    if not model_dir:
      raise FinetuneError("Pass --model_dir=DIR (or a --gin_file to name a default).")
    config.parse(FLAGS.gin_file, FLAGS.gin_bindings, model_dir)
    command = ["python", "-m", "finetune.train"] + sys.argv[1:]
    result = experiment.run(model_dir, FLAGS.schedule, command_line=command)
  except Exception as e:  # pylint: disable=broad-except
    error = e if isinstance(e, FinetuneError) else faults.explain(e, model_dir)
    if error is None or FLAGS.verbose:
      raise
    # gin appends "In call to configurable ..." to errors raised inside configurables.
    message = re.sub(r"\n\s*In call to configurable .*", "", str(error))
    if isinstance(error, faults.Preempted):
      print(f"finetune: {message}", file=sys.stderr)
      return 143
    print(f"finetune: error: {message}", file=sys.stderr)
    return 2
  summary.print_summary(model_dir, FLAGS.schedule, result)
  return 0


def run():
  """Console-script entry point (`finetune-train`)."""
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run()
