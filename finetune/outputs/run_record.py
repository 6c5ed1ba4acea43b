"""MODEL_DIR/command_lines.txt: every command that ran on a model_dir, for the record."""

import datetime
import os
import shlex

import tensorflow as tf

COMMAND_LOG = "command_lines.txt"


def record_command_line(model_dir, argv):
  """Appends the command that started this run, with a timestamp."""
  tf.io.gfile.makedirs(model_dir)
  path = os.path.join(model_dir, COMMAND_LOG)
  previous = ""
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      previous = f.read()
  stamp = datetime.datetime.now().isoformat(timespec="seconds")
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(previous + f"{stamp}  {shlex.join(argv)}\n")
