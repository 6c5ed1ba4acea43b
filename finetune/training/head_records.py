"""A classification head's predictions for one example in the user's terms: class names and
probabilities, not ids and logits. The heads (heads.py) call these from prediction_record."""

import numpy as np

from finetune.errors import FinetuneError


def number(value):
  """A float32 as JSON shows it: its shortest repr, not float32's binary tail."""
  return float(f"{float(value):.7g}")


def check_class_options(prediction, n_classes, head_name, thresholded):
  """top_k within the classes; a threshold only where a head decides by one."""
  if prediction.top_k is not None and prediction.top_k > n_classes:
    raise FinetuneError(f"prediction.top_k = {prediction.top_k} is more than the head's "
                        f"{n_classes} classes; give at most {n_classes}.")
  if prediction.threshold is not None and not thresholded:
    raise FinetuneError(f"prediction.threshold applies to binary_class_head and "
                        f"multi_label_head; {head_name} predicts the likeliest class. Leave it "
                        "unset.")


def _extras(probabilities, prediction, class_names):
  record = {}
  if prediction.top_k:
    order = np.argsort(-probabilities, kind="stable")[:prediction.top_k]
    record["top_k"] = [{"class": class_names[i], "probability": number(probabilities[i])}
                       for i in order]
  if prediction.all_probabilities:
    record["probabilities"] = {
        name: number(p) for name, p in zip(class_names, probabilities)
    }
  return record


def single_label(outputs, prediction, class_names, threshold=None):
  """{"class", "probability"} of the predicted class (with a binary head's threshold: the
  positive class from that probability on), then top_k and probabilities on request."""
  probabilities = np.asarray(outputs["probabilities"], np.float64)
  if threshold is None:
    chosen = int(np.argmax(probabilities))
  else:
    chosen = int(probabilities[1] >= threshold)
  record = {"class": class_names[chosen], "probability": number(probabilities[chosen])}
  record.update(_extras(probabilities, prediction, class_names))
  return record


def multi_label(outputs, prediction, class_names, threshold):
  """{"classes"}: every class whose probability reaches the threshold, then top_k and
  probabilities on request."""
  probabilities = np.asarray(outputs["probabilities"], np.float64)
  record = {"classes": [name for name, p in zip(class_names, probabilities) if p >= threshold]}
  record.update(_extras(probabilities, prediction, class_names))
  return record
