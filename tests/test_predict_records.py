"""Each head's prediction row in the user's terms, from the Estimator's raw predictions of its
own graph (no training: the heads' predictions of given logits), and the CSV spreading of
nested values."""

import os

import numpy as np
import pytest
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.prediction import writers
from finetune.prediction.settings import Prediction
from finetune.training import heads

LOGITS = np.array([[2.0, 0.5, -1.0, 0.0], [-3.0, 1.0, 1.2, 0.1]], np.float32)


def raw_predictions(head, logits):
  """The head's own predictions (tf.estimator's dict) for `logits`, one dict per example."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    spec = head.create_estimator_spec(features={}, mode=tf.estimator.ModeKeys.PREDICT,
                                      logits=tf.constant(logits))
    session.run(tf.compat.v1.tables_initializer())  # a vocabulary's class names
    values = session.run(spec.predictions)
  return [{k: v[i] for k, v in values.items()} for i in range(len(logits))]


def test_multi_class_top_k_and_probabilities_in_class_names():
  head = heads.multi_class_head(n_classes=4, label_vocabulary=["a", "b", "c", "d"])
  settings = Prediction(top_k=3, all_probabilities=True)
  head.check_prediction(settings)
  records = [head.prediction_record(p, settings, ["a", "b", "c", "d"])
             for p in raw_predictions(head, LOGITS)]
  softmax = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
  assert [r["class"] for r in records] == ["a", "c"]
  for record, expected in zip(records, softmax):
    assert list(record) == ["class", "probability", "top_k", "probabilities"]
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(list(record["probabilities"].values()), expected, rtol=1e-6)
    assert [t["class"] for t in record["top_k"]] == [
        "abcd"[i] for i in np.argsort(-expected)[:3]]
    assert record["probability"] == record["top_k"][0]["probability"]
  with pytest.raises(FinetuneError, match="top_k = 5 is more than the head's 4 classes"):
    head.check_prediction(Prediction(top_k=5))
  with pytest.raises(FinetuneError, match="threshold applies to binary_class_head and "
                     "multi_label_head; multi_class_head predicts the likeliest class"):
    head.check_prediction(Prediction(threshold=0.3))


def test_multi_label_classes_reach_the_threshold():
  head = heads.multi_label_head(n_classes=4, label_vocabulary=["a", "b", "c", "d"])
  sigmoid = 1 / (1 + np.exp(-LOGITS))
  for threshold in (None, 0.3, 0.8):
    settings = Prediction(threshold=threshold, all_probabilities=True)
    head.check_prediction(settings)
    for raw, expected in zip(raw_predictions(head, LOGITS), sigmoid):
      record = head.prediction_record(raw, settings, ["a", "b", "c", "d"])
      cut = 0.5 if threshold is None else threshold
      assert record["classes"] == ["abcd"[i] for i in range(4) if expected[i] >= cut]
      np.testing.assert_allclose(list(record["probabilities"].values()), expected, rtol=1e-6)


def test_regression_values_and_class_options_refused():
  head = heads.regression_head(label_dimension=2)
  records = [head.prediction_record(p, Prediction(), [])
             for p in raw_predictions(head, LOGITS[:, :2])]
  assert records == [{"values": [2.0, 0.5]}, {"values": [-3.0, 1.0]}]
  one = heads.regression_head()
  assert one.prediction_record(raw_predictions(one, LOGITS[:, :1])[0], Prediction(), []) == {
      "value": 2.0}
  with pytest.raises(FinetuneError, match=r"prediction.top_k, prediction.all_probabilities "
                     r"apply to classification heads"):
    head.check_prediction(Prediction(top_k=2, all_probabilities=True))


def test_csv_spreads_nested_values_into_columns():
  record = {"file": "f.csv", "row": 3, "id": "x", "class": "a", "probability": 0.5,
            "top_k": [{"class": "a", "probability": 0.5}, {"class": "b", "probability": 0.25}],
            "probabilities": {"a": 0.5, "b": 0.25}, "values": [1.0, 2.0],
            "tags": ["O", "B-PER"]}
  assert writers.flatten(record, " ") == {
      "file": "f.csv", "row": 3, "id": "x", "class": "a", "probability": 0.5,
      "top_k_1_class": "a", "top_k_1_probability": 0.5, "top_k_2_class": "b",
      "top_k_2_probability": 0.25, "probabilities_a": 0.5, "probabilities_b": 0.25,
      "values_1": 1.0, "values_2": 2.0, "tags": "O B-PER"}
  assert writers.flatten({"classes": ["a", "c"]}, "|") == {"classes": "a|c"}
  with pytest.raises(FinetuneError, match="Two CSV columns of the predictions would be named "
                     "'probabilities_a'"):
    writers.flatten({"probabilities_a": "kept", "probabilities": {"a": 0.5}}, " ")


def test_prediction_settings_are_checked_when_built():
  with pytest.raises(FinetuneError, match="threshold must be a probability strictly between"):
    Prediction(threshold=1.0)
  with pytest.raises(FinetuneError, match="keep_columns names id more than once"):
    Prediction(keep_columns=["id", "id"])
  with pytest.raises(FinetuneError, match="top_k"):
    Prediction(top_k=0)
  assert Prediction(keep_columns="id").keep_columns == ["id"]


def test_rows_appear_whole_or_not_at_all_on_another_file_system():
  """ram:// goes through tf.io.gfile as gs:// does: no folder to create, rename at the end."""
  path = "ram://predict_test/new_folder/out.csv"
  writers.check_output(path)  # writable, and nothing left by the check
  assert not tf.io.gfile.glob("ram://predict_test/new_folder/*")
  with writers.rows_to(path) as writer:
    writer.write({"file": "a", "row": 0, "class": "x"})
    writer.write({"file": "a", "row": 1, "class": "y"})
    # (listed: ram://'s exists() answers for any name that starts another, out.csv.tmp)
    assert tf.io.gfile.glob("ram://predict_test/new_folder/*") == [f"{path}.tmp-{os.getpid()}"]
  with tf.io.gfile.GFile(path) as f:
    assert f.read() == "file,row,class\na,0,x\na,1,y\n"
  failed = "ram://predict_test/failed.jsonl"
  with pytest.raises(RuntimeError):
    with writers.rows_to(failed) as writer:
      writer.write({"row": 0})
      raise RuntimeError("the model failed on a batch")
  assert not tf.io.gfile.glob("ram://predict_test/failed*")
  with pytest.raises(FinetuneError, match="CSV needs the same columns in every row"):
    with writers.rows_to("ram://predict_test/ragged.csv") as writer:
      writer.write({"a": 1})
      writer.write({"b": 2})
