"""Failures of a running graph explained in the user's terms.

TensorFlow reports data and label mistakes only when a step runs, as an op error deep in a
graph; `explain` recognizes the common ones and says what is wrong and how to fix it. Gin's own
errors are translated in config.py.
"""

import re

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.training.loss_check import NON_FINITE_LOSS


def _values(message, limit=5):
  match = re.search(r"\] = \] \[(.*?)\]\s*$|= \] \[(\[.*?\])", message, re.S)
  text = (match.group(1) or match.group(2)) if match else ""
  return ", ".join(re.findall(r"[^\[\]\s]+", text)[:limit])


def _non_finite_loss(message, model_dir, in_data=None):
  """The NaN guard's failure, with its step; `in_data`: the data's first non-finite number,
  which is then the cause named instead of the learning-rate advice."""
  if NON_FINITE_LOSS not in message:
    return None
  # The assertion's data: [text] [global step before this step] [loss].
  found = re.search(re.escape(NON_FINITE_LOSS) + r"\] \[(\d+)\] \[([^\]]+)\]", message)
  step = int(found.group(1)) + 1 if found else "?"
  latest = tf.train.latest_checkpoint(model_dir) if model_dir else None
  kept = (f"nothing from that step was saved. The last good checkpoint is kept "
          f"({latest or 'none yet'}).")
  if in_data:
    return (f"The loss became NaN or infinite at step {step} because the data holds a number "
            f"that is not finite: {in_data} Training stopped there and {kept}")
  return (f"The loss became NaN or infinite at step {step}; training stopped there and {kept} "
          "Lower learning_rate_schedule.base_learning_rate, set "
          "optimization.clip_gradient_norm, or check the data for NaN values.")


def _bad_label(message, model_dir):
  del model_dir
  if "Labels must be <= n_classes - 1" in message:
    return (f"A label is outside the head's classes (labels seen: {_values(message)}): "
            "integer labels must be 0..n_classes-1. Check the label column, or the head's "
            "n_classes (or give a label_vocabulary for named labels).")
  if "Labels must be >= 0" in message and ("Lookup" in message or "[-1]" in message):
    # A word missing from the vocabulary is looked up as -1.
    return ("A label is not in the head's label_vocabulary (or is -1). Add it to "
            "label_vocabulary (and n_classes), or fix the label column.")
  if "Labels must be >= 0" in message:
    return (f"A label is negative (labels seen: {_values(message)}); class labels must be "
            "0..n_classes-1.")
  if "a label's tag count differs from the word count" in message:
    return ("A row's label has a different number of tags than its text has words; "
            "token_tagging_head takes one tag per whitespace-separated word of the first "
            "text column. Fix the label column.")
  if "A tag is not in token_tagging_head.tags" in message:
    return ("A tag in the label column is not in token_tagging_head.tags; add it to the tags, "
            "or fix the label column (one tag per whitespace-separated word).")
  number = re.search(r"StringToNumberOp could not correctly convert string: (.*?)(\n|$)", message)
  if number:
    return (f"Label '{number.group(1).strip()}' is not a number and the head has no "
            "label_vocabulary. Give the head label_vocabulary = [...] with the label names, "
            "or use integer labels.")
  return None


def _bad_csv(message, model_dir):
  del model_dir
  fields = re.search(r"Expect (\d+) fields but have (\d+) in record", message)
  if fields:
    return (f"A CSV row has {fields.group(2)} fields where the header has {fields.group(1)}: "
            "the file is malformed (an unquoted delimiter, or a missing value). Fix the row; "
            "quote fields that contain the delimiter.")
  parse = re.search(r"Field (\d+) in record (\d+) is not a valid (\w+): ?(.*?)(\n|$)", message)
  if parse:
    value = parse.group(4).strip()
    value = value if len(value) <= 60 else f"{value[:60]}... ({len(value):,} characters)"
    return (f"CSV field {parse.group(1)} of a row is not a valid {parse.group(3)}: "
            f"'{value}'. Declare the column's type in csv_data.column_types "
            "or fix the value.")
  return None


def _other_checkpoint(message, model_dir):
  if re.search(
      r"Key .* not found in checkpoint|Assign requires shapes of both tensors|"
      r"tensor .* shape .* in the checkpoint", message):
    return str(different_model(model_dir, message.splitlines()[0][:200]))
  return None


def _disk_full(message, model_dir):
  if "No space left on device" not in message:
    return None
  found = (re.search(r"(\S+); No space left on device", message) or  # TensorFlow's file ops
           re.search(r"No space left on device: '([^']+)'", message))  # Python's open()
  where = f"writing '{found.group(1)}' failed" if found else "a write failed"
  latest = tf.train.latest_checkpoint(model_dir) if model_dir else None
  return (f"The disk is full: {where} (No space left on device). The last complete "
          f"checkpoint is kept ({latest or 'none yet'}); free space on that disk, then run the "
          "same command to resume (half-written files are cleared at the next start).")


def _unreachable(message, model_dir):
  """A gs:// (or other remote) path while the network or the credentials are missing."""
  del model_dir
  if not re.search(r"resolve host|libcurl code|Couldn't connect|Network is unreachable|"
                   r"Connection refused|metadata\.google\.internal", message):
    return None
  detail = next((line.strip() for line in message.splitlines() if line.strip()), "")[:200]
  return (f"A remote path (gs://) could not be reached: {detail}. Check the network and, for "
          "Google Cloud Storage, the credentials (GOOGLE_APPLICATION_CREDENTIALS), or use "
          "local paths.")


_RECOGNIZERS = (_non_finite_loss, _disk_full, _bad_label, _bad_csv, _other_checkpoint,
                _unreachable)


# Failures of the input pipeline or the label checks: the data can name the record.
_DATA_ERRORS = re.compile(
    r"Labels must be|A tag is not in|tag count differs|StringToNumberOp|Expect \d+ fields|Field \d+ in record|"
    r"is required but missing|is required but could not be found|corrupted record|"
    r"truncated record|DataLossError|Key: .* Can't parse|Name: <unknown>, Feature|"
    r"Invalid JPEG data|Unknown image file format|Invalid PNG|Invalid GIF|Input is empty|"
    r"DecodeImage|DecodeJpeg|DecodePng|DecodeBmp|DecodeGif|Could not parse example input|"
    r"Data types don't match|ParseExample")


def _located(locate):
  """locate()'s answer; None if the scan itself fails (the graph's error is then explained
  as it is)."""
  try:
    return locate()
  except Exception:  # pylint: disable=broad-except  (any reading error: gs://, encodings)
    return None


def explain(error, model_dir=None, locate=None):
  """A FinetuneError for a known failure of a running graph, else None.

  Args:
    error: the exception.
    model_dir: the run's directory (to name its latest checkpoint).
    locate: for a data error, a function returning the first bad record, described, or
      None (DataSource.find_problem): its message replaces TensorFlow's batch-level one.
  """
  message = str(error)
  if locate and (_DATA_ERRORS.search(message) or isinstance(error, tf.errors.DataLossError)):
    found = _located(locate)
    if found:
      return FinetuneError(found)
  if locate and NON_FINITE_LOSS in message:  # the data may hold a NaN or infinite number
    found = _located(locate)
    if found:
      return FinetuneError(_non_finite_loss(message, model_dir, in_data=found))
  for recognize in _RECOGNIZERS:
    explanation = recognize(message, model_dir)
    if explanation:
      return FinetuneError(explanation)
  return None


def different_model(model_dir, detail):
  return FinetuneError(
      f"model_dir '{model_dir}' holds checkpoints of a different model ({detail}). "
      "Nothing was changed there. Start fresh with a new --model_dir, or keep its weights "
      f"as a starting point with training.warm_start_from = '{model_dir}' in a new "
      "--model_dir.")
