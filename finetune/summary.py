"""What the command prints when it is done: final metrics and where the outputs are."""

import os

import tensorflow as tf


def latest_export(model_dir, name):
  """The newest timestamped directory under MODEL_DIR/export/<name>, or None."""
  base = os.path.join(model_dir, "export", name)
  if not tf.io.gfile.isdir(base):
    return None
  stamps = sorted(e.rstrip("/") for e in tf.io.gfile.listdir(base) if e.rstrip("/").isdigit())
  return os.path.join(base, stamps[-1]) if stamps else None


def latest_module_export(model_dir, name):
  """The newest exported hub module under MODEL_DIR/export/<name>/<timestamp>/<module>."""
  path = latest_export(model_dir, name)
  if path is None:
    return None
  modules = [
      m.rstrip("/") for m in tf.io.gfile.listdir(path) if tf.io.gfile.isdir(os.path.join(path, m))
  ]
  return os.path.join(path, modules[0]) if len(modules) == 1 else path


def print_summary(model_dir, schedule, result):
  print()
  if isinstance(result, dict) and schedule in ("train_and_evaluate", "evaluate"):
    print("Final metrics:")
    for key, value in sorted(result.items()):
      print(f"  {key:<24} {value:.4f}" if isinstance(value, float) else f"  {key:<24} {value}")
  for name, label in (("hub", "Fine-tuned module (TF1 Hub format)"),
                      ("best_hub", "Best fine-tuned module"), ("serving", "Serving SavedModel")):
    path = (latest_export(model_dir, name) if name == "serving" else latest_module_export(
        model_dir, name))
    if path:
      print(f"{label}: {path}")
  if schedule == "predict" and result:
    print(f"Predictions: {result}")
  print(f"Model directory: {model_dir}")
