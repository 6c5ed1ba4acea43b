"""A resumed run with a changed config keeps the config its checkpoint was trained with.

MODEL_DIR/operative_config.gin describes the run that wrote it. Resuming with, say, another
learning rate would overwrite it silently, so it would no longer describe the steps already
trained. Before it is rewritten, a different one is kept as
`operative_config.until-step-N.gin` (N: the step the resumed run starts from) and one line
says what changed.
"""

import logging
import os

import gin
import tensorflow as tf

OPERATIVE_CONFIG = "operative_config.gin"
log = logging.getLogger("finetune")


def bindings(text):
  """{name: value text} of a gin operative config (multi-line values joined)."""
  parsed, name = {}, None
  for line in text.splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
      continue
    if line[0].isspace() and name:
      parsed[name] += " " + line.strip()
    elif " = " in line:
      name, value = line.split(" = ", 1)
      parsed[name] = value.strip()
  return parsed


# Settings that do not change what is trained (a batch prediction's output columns): a run
# resumed from a model_dir older than them says nothing about them.
NOT_TRAINING = ("prediction.", "experiment.prediction")


def changes(old, new):
  """'name: old -> new' for every binding that differs and changes the training."""
  before, after = bindings(old), bindings(new)
  return [
      f"{name}: {before.get(name, '(unset)')} -> {after.get(name, '(unset)')}"
      for name in sorted(set(before) | set(after))
      if before.get(name) != after.get(name) and not name.startswith(NOT_TRAINING)
  ]


class ConfigHistoryHook(tf.compat.v1.train.SessionRunHook):
  """Before gin's GinConfigSaverHook rewrites the operative config (put it first)."""

  def __init__(self, model_dir):
    self.model_dir = model_dir

  def after_create_session(self, session, coord):
    path = os.path.join(self.model_dir, OPERATIVE_CONFIG)
    if not tf.io.gfile.exists(path):
      return
    step = session.run(tf.compat.v1.train.get_global_step())
    with tf.io.gfile.GFile(path) as f:
      old = f.read()
    changed = changes(old, gin.operative_config_str())
    if not step or not changed:
      return
    kept = os.path.join(self.model_dir, f"operative_config.until-step-{step}.gin")
    if not tf.io.gfile.exists(kept):
      with tf.io.gfile.GFile(kept, "w") as f:
        f.write(old)
    shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
    log.info("Resuming at step %d with a changed config: %s (the config of steps 1-%d is "
             "kept in %s)", step, shown, step, kept)
