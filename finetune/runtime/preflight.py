"""Checks on the model_dir before a run writes to it.

Before training: the model_dir can be written; any checkpoint already there belongs to this
model (same variables, same shapes), so resuming cannot corrupt it; leftover temporary export
directories from a killed run are removed (an export is whole or absent). The lock that keeps
two trainings apart is in lock.py.
"""

import functools
import logging
import os
import socket

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.outputs import exporters
from finetune.runtime.diagnosis import different_model

log = logging.getLogger("finetune")


def check_writable(model_dir):
  probe = os.path.join(model_dir, f".write_probe.{socket.gethostname()}.{os.getpid()}")
  try:
    tf.io.gfile.makedirs(model_dir)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise FinetuneError(f"model_dir '{model_dir}' cannot be written ({type(e).__name__}: "
                        f"{str(e).splitlines()[0]}). Choose a writable --model_dir.") from e


def remove_partial_exports(model_dir, keep_best=False):
  """Deletes export/*/temp-* directories and model.ckpt-N_temp* folders: the half-written
  exports and checkpoints of a killed run (called under the model_dir lock only). With
  `keep_best` (a TF_CONFIG cluster's chief), export/best_hub/ is left alone: the evaluator
  writes there, without the lock, and may be doing so right now."""
  removed = []
  if tf.io.gfile.isdir(model_dir):
    for entry in tf.io.gfile.listdir(model_dir):
      if entry.startswith("model.ckpt-") and "_temp" in entry:
        path = os.path.join(model_dir, entry.rstrip("/"))
        if tf.io.gfile.isdir(path):
          tf.io.gfile.rmtree(path)
          removed.append(path)
  root = os.path.join(model_dir, "export")
  if not tf.io.gfile.isdir(root):
    return removed
  for kind in tf.io.gfile.listdir(root):
    if not (keep_best and kind.rstrip("/") == exporters.BEST):
      removed += _remove_temp_exports(os.path.join(root, kind.rstrip("/")))
  return removed


def remove_partial_best_exports(model_dir):
  """A TF_CONFIG cluster's evaluator, the one writer of export/best_hub/, clears the
  half-written ones a killed evaluator left there."""
  return _remove_temp_exports(os.path.join(model_dir, "export", exporters.BEST))


def _remove_temp_exports(kind_dir):
  removed = []
  if tf.io.gfile.isdir(kind_dir):
    for entry in tf.io.gfile.listdir(kind_dir):
      if entry.startswith("temp-"):
        path = os.path.join(kind_dir, entry.rstrip("/"))
        tf.io.gfile.rmtree(path)
        removed.append(path)
  return removed


def _damage(checkpoint):
  """Why `checkpoint` cannot be read whole (a cut data file, a damaged index), or None. Reads
  every tensor once per start (what restoring it reads anyway): the checks before a run and
  the set-aside under the lock ask about the same files, and get the remembered answer."""
  files = tuple((f, s.length, s.mtime_nsec) for f in sorted(tf.io.gfile.glob(checkpoint + ".*"))
                for s in [tf.io.gfile.stat(f)])
  return _damage_of(checkpoint, files)


@functools.lru_cache(maxsize=16)
def _damage_of(checkpoint, files):  # `files`: names, sizes and times; a rewrite is read again
  del files
  try:
    reader = tf.train.load_checkpoint(checkpoint)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except  (OpError, IndexError: a cut file)
    return f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
  return None


def damaged_latest_checkpoint(model_dir):
  """(latest checkpoint, what is wrong with it, the newest older one that reads or None) if
  the latest checkpoint cannot be read whole (a disk that filled, a copy cut short); else
  None."""
  state = tf.train.get_checkpoint_state(model_dir) if tf.io.gfile.isdir(model_dir) else None
  if not state or not state.model_checkpoint_path:
    return None
  latest = state.model_checkpoint_path
  damage = _damage(latest)
  if damage is None:
    return None
  older = [p for p in reversed(state.all_model_checkpoint_paths) if p != latest]
  return latest, damage, next((p for p in older if _damage(p) is None), None)


def check_latest_checkpoint_reads(model_dir, training):
  """Before a run restores anything: a damaged latest checkpoint is refused, unless a
  training can fall back to an older one that reads (set_aside_damaged does, under the
  lock)."""
  found = damaged_latest_checkpoint(model_dir)
  if not found:
    return
  latest, damage, readable = found
  if training and readable:
    return
  then = (f"a training run here resumes from {readable}, the newest one that reads, and keeps "
          "the damaged files aside" if readable else
          "no earlier checkpoint reads; start a new --model_dir")
  raise FinetuneError(f"The latest checkpoint {latest} is damaged ({damage}). Nothing was "
                      f"changed; {then}.")


def set_aside_damaged(model_dir):
  """Under the model_dir lock: renames a damaged latest checkpoint's files to
  *.damaged-<name> (kept, never deleted) and points the checkpoint index at the newest
  checkpoint that reads, so the training resumes from there instead of from scratch."""
  found = damaged_latest_checkpoint(model_dir)
  if not found or not found[2]:
    return None
  latest, damage, readable = found
  for path in tf.io.gfile.glob(latest + ".*"):
    folder, name = os.path.split(path)
    tf.io.gfile.rename(path, os.path.join(folder, f"damaged-{name}"), overwrite=True)
  state = tf.train.get_checkpoint_state(model_dir)
  kept = [p for p in state.all_model_checkpoint_paths if p != latest]
  tf.compat.v1.train.update_checkpoint_state(model_dir, readable, all_model_checkpoint_paths=kept)
  log.warning("The latest checkpoint %s is damaged (%s): resuming from %s; its files are kept "
              "as damaged-*.", latest, damage, readable)
  return readable


def check_checkpoint_matches(model_dir, model_fn, feature_specs, run_config):
  """Refuses a model_dir whose checkpoint lacks this model's variables or has other shapes.

  Builds the PREDICT graph (module and head, no labels needed) in a scratch graph and
  compares every variable with the latest checkpoint.
  """
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is None:
    return
  damaged = damaged_latest_checkpoint(model_dir)
  if damaged:  # the one a training will resume from
    checkpoint = damaged[2]
  saved = dict(tf.train.list_variables(checkpoint))
  with tf.Graph().as_default():
    _predict_graph(model_fn, feature_specs, run_config)
    for variable in tf.compat.v1.global_variables():
      name, shape = variable.op.name, variable.shape.as_list()
      if name not in saved:
        raise different_model(model_dir, f"it has no variable '{name}'")
      if list(saved[name]) != shape:
        raise different_model(
            model_dir, f"variable '{name}' has shape {list(saved[name])} there and {shape} "
            "here")


def _predict_graph(model_fn, feature_specs, run_config=None):
  """The model's PREDICT graph (module and head, no labels needed) in the default graph."""
  features = {
      name: tf.compat.v1.placeholder(spec.dtype, [None] + spec.shape.as_list())
      for name, spec in feature_specs.items()
  }
  tf.compat.v1.train.get_or_create_global_step()
  model_fn(features, None, tf.estimator.ModeKeys.PREDICT, {}, run_config)


def check_warm_start(source, patterns, model_fn, feature_specs):
  """Refuses a warm start whose checkpoint lacks a variable the model would take from it
  (tf.estimator's warm start takes every trainable variable matching a pattern), or holds it
  with another shape: found here, before the model_dir is touched, not as a ValueError that
  lists the whole checkpoint once training starts."""
  saved = dict(tf.train.list_variables(source))
  with tf.Graph().as_default():
    _predict_graph(model_fn, feature_specs)
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    wanted = {v.op.name: v.shape.as_list() for p in patterns for v in
              tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, scope=p)}
  scopes = sorted({name.split("/")[0] for name in saved})
  modules = [s for s in scopes if s not in ("global_step", "head", "training")] or ["module"]
  for name in sorted(wanted):  # a missing scope first: it explains the shapes too
    if name not in saved:
      raise FinetuneError(
          f"training.warm_start_from = '{source}' has no variable '{name}' (its variables are "
          f"under {', '.join(scopes)}): a module's variable scope is its hub_module.name (set "
          f"it to the scope the checkpoint has, e.g. hub_module.name = '{modules[0]}'), or "
          "take only part of it with training.warm_start_vars (a regex, e.g. 'head/.*').")
  for name, shape in sorted(wanted.items()):
    if list(saved[name]) != shape:
      raise FinetuneError(
          f"training.warm_start_from = '{source}' holds '{name}' with shape {list(saved[name])}"
          f", this model has {shape}; leave it out with training.warm_start_vars.")
