"""Which checkpoint a predict run uses: --checkpoint=latest|best|PATH.

"best" is the checkpoint of the evaluation that made the newest export/best_hub/<ts>/ (its
eval_result.json holds the global step); it is the default when
evaluation.best_export_metric is set. The Estimator keeps only the last
run_config.keep_checkpoint_max checkpoints, so the best one may be gone: asked for by name,
that is an error; as the default, the run uses the latest and says so.
"""

import logging
import os

import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError
from finetune.outputs import exporters

log = logging.getLogger("finetune")


def _step(path):
  return int(path.rsplit("-", 1)[-1]) if path.rsplit("-", 1)[-1].isdigit() else None


def best_step(model_dir):
  """The global step of the newest best-module export, or None when there is none."""
  root = os.path.join(model_dir, "export", exporters.BEST)
  if not tf.io.gfile.isdir(root):
    return None
  for entry in sorted((e.rstrip("/") for e in tf.io.gfile.listdir(root)), reverse=True):
    result_file = os.path.join(root, entry, exporters.EVAL_RESULT_FILE)
    if entry.isdigit() and tf.io.gfile.exists(result_file):
      step = files.read_json(result_file).get("global_step")
      if step is not None:
        return int(step)
  return None


def _kept(model_dir):
  """The checkpoints the model_dir lists whose files are there."""
  state = tf.train.get_checkpoint_state(model_dir)
  listed = list(state.all_model_checkpoint_paths) if state else []
  return [p for p in listed if tf.io.gfile.exists(p + ".index")]


def choose(model_dir, choice, best_metric):
  """(checkpoint path, its global step, how it was chosen) for `choice` ("latest", "best", a
  checkpoint path, or None: best when `best_metric` is set, else latest)."""
  latest = tf.train.latest_checkpoint(model_dir)
  if latest is None and choice in (None, "latest", "best"):
    raise FinetuneError(f"No checkpoint in '{model_dir}' to predict; train first "
                        "(--schedule=train or train_and_evaluate), or name one with "
                        "--checkpoint=PATH.")
  if choice not in (None, "latest", "best"):
    named = _named(choice, model_dir)
    return named, _step(named), "as given"
  if choice == "latest" or (choice is None and not best_metric):
    return latest, _step(latest), "the latest"
  step = best_step(model_dir)
  if step is None:
    if choice == "best":
      raise FinetuneError(
          f"--checkpoint=best: '{model_dir}' has no best-module export (export/best_hub/) to "
          "say which evaluation was best; set evaluation.best_export_metric when training, or "
          "use --checkpoint=latest.")
    return latest, _step(latest), "the latest (no best-module export yet)"
  best = next((p for p in _kept(model_dir) if _step(p) == step), None)
  if best is not None:
    return best, step, f"the best by {best_metric or 'the best-export metric'}"
  kept = ", ".join(str(_step(p)) for p in _kept(model_dir)) or "none"
  if choice == "best":
    raise FinetuneError(
        f"--checkpoint=best: the best evaluation was at step {step}, whose checkpoint is no "
        f"longer in '{model_dir}' (kept: steps {kept}; run_config.keep_checkpoint_max). Its "
        "module is in export/best_hub/; predict with --checkpoint=latest or a kept step's "
        "checkpoint path.")
  log.warning("The best evaluation was at step %d, whose checkpoint is no longer kept "
              "(steps %s); predicting with the latest, step %s.", step, kept, _step(latest))
  return latest, _step(latest), f"the latest (the best, step {step}, is no longer kept)"


def _named(path, model_dir):
  """A checkpoint path (model.ckpt-N, also relative to model_dir) or a folder holding one."""
  for candidate in (path, os.path.join(model_dir, path)):
    if tf.io.gfile.isdir(candidate):
      found = tf.train.latest_checkpoint(candidate)
      if found:
        return found
    elif tf.io.gfile.exists(candidate + ".index"):
      return candidate
  hint = " (without .index)" if path.endswith(".index") else ""
  raise FinetuneError(f"--checkpoint = '{path}' is neither 'latest', 'best', a checkpoint "
                      f"(e.g. runs/x/model.ckpt-600{hint}) nor a folder holding one.")
