"""Does pretraining the BERT-style encoder pay? Fine-tuned against frozen against from scratch.

  python -m examples.bert.compare [--modules_dir=build/bert/modules] [--repeats=3]
      [--gin_file=text/bert_classifier.gin] [--train_steps=N]

Runs the task config three ways, over several seeds: the pretrained encoder fine-tuned, the
pretrained encoder frozen (only the new head learns), and the same architecture untrained
(`bert_untrained`, same vocabulary) trained from scratch. Prints a Markdown table of eval
accuracy. Build the modules first: python -m examples.bert.build
"""

import os

from absl import app
from absl import flags

from examples.compare_table import markdown
from finetune import logs

logs.quiet_tensorflow_before_import(False)

from finetune import api  # noqa: E402

FLAGS = flags.FLAGS

SETTINGS = (("fine-tuned (pretrained, trainable)", "bert_pretrained", True),
            ("frozen (pretrained, trainable=False)", "bert_pretrained", False),
            ("from scratch (untrained, same vocabulary)", "bert_untrained", True))


def compare(modules_dir, runs_dir, gin_file, repeats=3, train_steps=None, extra_bindings=()):
  """Returns [(setting, [accuracy per seed])]."""
  results = []
  for label, module, trainable in SETTINGS:
    accuracies = []
    for seed in range(repeats):
      bindings = [f"MODULE_HANDLE = '{os.path.join(modules_dir, module)}'",
                  f"hub_module.trainable = {trainable}", f"run_config.random_seed = {seed}",
                  f"csv_data.seed = {seed}"]
      if train_steps:
        bindings += [f"TRAIN_STEPS = {train_steps}", "learning_rate_schedule.warmup_steps = 0"]
      name = os.path.splitext(os.path.basename(gin_file))[0]
      model_dir = os.path.join(runs_dir, name, f"{module}-{trainable}", str(seed))
      result = api.train([gin_file], bindings + list(extra_bindings), model_dir=model_dir)
      accuracies.append(result.metrics["accuracy"])
    results.append((label, accuracies))
  return results


def main(argv):
  del argv
  logs.configure(False)
  print(markdown(compare(FLAGS.modules_dir, FLAGS.runs_dir, FLAGS.gin_file, FLAGS.repeats,
                         FLAGS.train_steps)))


if __name__ == "__main__":
  # Flags are defined only when this runs as a command, so tests can import compare().
  flags.DEFINE_string("modules_dir", "build/bert/modules", "bert_pretrained/untrained's folder.")
  flags.DEFINE_string("runs_dir", "runs/bert_compare", "Where the runs' model_dirs go.")
  flags.DEFINE_string("gin_file", "text/bert_classifier.gin", "The task config.")
  flags.DEFINE_integer("repeats", 3, "Seeds per setting.")
  flags.DEFINE_integer("train_steps", None, "Override TRAIN_STEPS (for a quick check).")
  app.run(main)
