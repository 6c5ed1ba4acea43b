"""The fine-tuned TF2 SavedModel: the original SavedModel with the checkpoint's weights, saved
again as a reusable SavedModel that `hub.KerasLayer` (and `hub.load`) load like the original.

A TF2 SavedModel is saved by `tf.saved_model.save` from eager Python objects, which an
Estimator's graph does not have, so the export is made from the checkpoint in two steps:
  1. in a fresh graph, the SavedModel is loaded exactly as the model_fn loads it (same
     `module/` names) and the checkpoint is restored into it: the fine-tuned values, in the
     order of tf2_module.ordered_variables;
  2. in a fresh thread (eager, whatever graph the caller's thread is building), the original
     SavedModel is loaded again, those values are assigned to its variables (same order), and
     it is saved with its `__call__`, `variables`, `trainable_variables`,
     `regularization_losses`, signatures and assets.
"""


import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.modules import tf2_module
from finetune.process import signals


def fine_tuned_values(module, checkpoint_path):
  """[numpy value] of the SavedModel's variables in `checkpoint_path`."""
  with tf.Graph().as_default():
    variables = tf2_module.ordered_variables(tf2_module.load(module.spec, module.name))
    saver = tf.compat.v1.train.Saver(var_list={v.op.name: v for v in variables})
    with tf.compat.v1.Session() as session:
      saver.restore(session, checkpoint_path)
      return session.run(variables)


def _save_with_values(source, values, target):
  obj = tf.saved_model.load(source)
  variables = tf2_module.ordered_variables(obj)
  shapes = [list(v.shape) for v in variables]
  if shapes != [list(value.shape) for value in values]:
    raise FinetuneError(f"The checkpoint's module variables do not match TF2 SavedModel "
                        f"'{source}' (shapes {shapes}); was the run trained from another one?")
  for variable, value in zip(variables, values):
    variable.assign(value)
  signatures = dict(obj.signatures) if getattr(obj, "signatures", None) else None
  tf.saved_model.save(obj, target, signatures=signatures)


def export(module, target, checkpoint_path):
  """Writes the fine-tuned SavedModel of `module` (a TF2 HubModule) to `target`."""
  values = fine_tuned_values(module, checkpoint_path)
  # tf.saved_model.save needs eager execution; a new thread starts eager, outside any graph.
  signals.run_in_thread(lambda: _save_with_values(module.spec.path, values, target),
                        "tf2_export")
