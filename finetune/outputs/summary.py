"""Where a run's outputs are, and what the command prints when it is done."""

import os

import tensorflow as tf

EXPORT_KINDS = (("hub", "Fine-tuned module (TF1 Hub format)"), ("best_hub",
                                                                 "Best fine-tuned module"),
                ("serving", "Serving SavedModel"))


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


def latest_exports(model_dir):
  """{kind: path} of the newest export of each kind that exists (modules: the module dir)."""
  exports = {}
  for kind, _ in EXPORT_KINDS:
    path = latest_export(model_dir, kind) if kind == "serving" else latest_module_export(
        model_dir, kind)
    if path:
      exports[kind] = path
  return exports


def _is_module(path):
  return any(tf.io.gfile.exists(os.path.join(path, f)) for f in ("tfhub_module.pb",
                                                                  "saved_model.pb"))


def _lines(kind, label, path):
  """One line per fine-tuned module of an export (a model with several modules has a folder
  of them); a TF2 handle's module is a TF2 SavedModel (no tfhub_module.pb)."""
  if kind == "serving" or _is_module(path):
    modules = [path]
  else:
    modules = [os.path.join(path, m.rstrip("/")) for m in sorted(tf.io.gfile.listdir(path))
               if _is_module(os.path.join(path, m.rstrip("/")))]
  for module in modules:
    if kind == "hub" and not tf.io.gfile.exists(os.path.join(module, "tfhub_module.pb")):
      yield f"Fine-tuned module (TF2 SavedModel): {module}"
    else:
      yield f"{label}: {module}"


def print_summary(result):
  """Prints an api.RunResult: final metrics, then where the outputs are."""
  print()
  if result.metrics:
    print("Final metrics:")
    for key, value in sorted(result.metrics.items()):
      print(f"  {key:<24} {value:.4f}" if isinstance(value, float) else f"  {key:<24} {value}")
  for kind, label in EXPORT_KINDS if result.schedule != "predict" else ():
    if kind in result.exports:
      for line in _lines(kind, label, result.exports[kind]):
        print(line)
  if result.predictions:
    print(f"Predictions: {result.predictions}")
  if result.graph:
    print(f"Config checked, nothing written: the training graph has {result.graph['variables']}"
          f" variables ({result.graph['trainable_variables']} trainable), "
          f"{result.graph['parameters']:,} parameters.")
  print(f"Model directory: {result.model_dir}")
