"""MODEL_DIR/modules.json: which modules the checkpoints hold, in the order the head reads them.

A checkpoint restores variables by name, so a config that lists the same modules in another
order (or swaps the input mappings of a shared module) restores without a word, and the head's
weights then meet the other module's features: silently wrong evaluations, exports and
predictions. Training records the order here; every later run on the model_dir compares.
"""

import os

import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError

MODULE_RECORD = "modules.json"


def describe(modules):
  """What fixes the layout of the head's input: each module's variable scope, input mappings
  and combination, in order."""
  return [{"name": m.name, "input_mapping": m.input_mappings, "combine": m.combine}
          for m in modules]


def check(model_dir, modules):
  """Refuses a config whose modules differ in order or inputs from the recorded ones."""
  recorded = files.read_json(os.path.join(model_dir, MODULE_RECORD))
  if not recorded:
    return
  layout = describe(modules)
  if recorded == layout:
    return
  shown = lambda entries: "; ".join(
      f"{e['name']}" + (f" on {e['input_mapping']}" if e["input_mapping"] else "") +
      (f" ({e['combine']})" if len(e["input_mapping"] or []) > 1 else "") for e in entries)
  raise FinetuneError(
      f"model_dir '{model_dir}' was trained with the modules [{shown(recorded)}] (its "
      f"{MODULE_RECORD}); this config has [{shown(layout)}]. The head reads the modules' "
      "outputs in that order: list the modules and input mappings as they were trained, or use "
      "another model_dir.")


def write(model_dir, modules):
  path = os.path.join(model_dir, MODULE_RECORD)
  if files.read_json(path) != describe(modules):
    tf.io.gfile.makedirs(model_dir)
    files.write_json_atomically(path, describe(modules))
