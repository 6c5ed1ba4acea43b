"""Batch prediction (issue 27) on every data source besides CSV numbers (test_predict_files.py):
TFRecord, a flat folder of images, BERT-style text and sentence pairs, token tagging, and a
model trained on the TPU path. Each predicts on files without labels, joins rows back by key, and gives what the
serving SavedModel answers for the same inputs."""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from finetune import api
from finetune.errors import FinetuneError
from tests import builders
from tests import helpers
from tests.test_bert import kept_words
from tests.test_bert import pairs_csv
from tests.test_bert import serve_here
from tests.test_bert import tags_csv
from tests.test_bert import task_lines
from tests.test_bert import vocabulary
from tests.test_tpu import TPU_ON_CPU

QUICK = ["learning_rate_schedule.warmup_steps = 0"]


def train_and_export(gin_file, bindings, model_dir, steps=5):
  """Trains `steps` steps, then exports once (no evaluations): the serving SavedModel."""
  bindings = list(bindings) + QUICK + [f"training.train_steps = {steps}"]
  api.train([gin_file], bindings, model_dir=model_dir, schedule="train")
  return api.train(model_dir=model_dir, schedule="export").exports["serving"]


def read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f]


def probabilities_of(rows, names):
  return np.array([[r["probabilities"][n] for n in names] for r in rows])


def example(features):
  def feature(value):
    if isinstance(value, bytes):
      return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    if isinstance(value, int):
      return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(value)))

  return tf.train.Example(features=tf.train.Features(
      feature={k: feature(v) for k, v in features.items()})).SerializeToString()


def test_tfrecord_without_labels(tmp_path, digits_module):
  (pixels, labels), (eval_pixels, _) = [(f["pixels"], y) for f, y in builders.finetune_arrays()]
  with tf.io.TFRecordWriter(str(tmp_path / "train.tfrecord")) as writer:
    for row, label in zip(pixels, labels):
      writer.write(example({"pixels": row, "label": int(label)}))
  new = eval_pixels[:11]
  with tf.io.TFRecordWriter(str(tmp_path / "new.tfrecord")) as writer:
    for i, row in enumerate(new):  # no label; an id and another feature
      writer.write(example({"pixels": row, "id": f"r{i}".encode(), "batch": 7}))
  model_dir = str(tmp_path / "model")
  serving = train_and_export("digits/finetune.gin", [
      f"MODULE_HANDLE = '{digits_module}'", "experiment.data = @tfrecord_data()",
      f"tfrecord_data.train_files = '{tmp_path / 'train.tfrecord'}'",
      f"tfrecord_data.eval_files = '{tmp_path / 'train.tfrecord'}'",
      "tfrecord_data.feature_spec = {'pixels': ('float', [64])}",
      "tfrecord_data.label_key = 'label'", "tfrecord_data.eval_batch_size = 4",
      "experiment.head = @multi_class_head()", "multi_class_head.n_classes = 5"
  ], model_dir)
  output = str(tmp_path / "out.jsonl")
  api.predict(model_dir, str(tmp_path / "new.tfrecord"), output=output, bindings=[
      "prediction.keep_columns = ['id']", "prediction.all_probabilities = True",
      "prediction.top_k = 3"])
  rows = read_jsonl(output)
  assert [(r["row"], r["id"]) for r in rows] == [(i, f"r{i}") for i in range(11)]
  names = [str(i) for i in range(5)]  # ids as class names: the head has no vocabulary
  answers = serve_here(serving, {"pixels": new})["probabilities"]
  np.testing.assert_allclose(probabilities_of(rows, names), answers, rtol=1e-5, atol=1e-6)
  for row, answer in zip(rows, answers):
    assert row["class"] == names[int(np.argmax(answer))]
    assert [t["class"] for t in row["top_k"]] == [names[i] for i in np.argsort(-answer)[:3]]
  with pytest.raises(FinetuneError, match=r"new.tfrecord', row 0 has no feature key of "
                     r"prediction.keep_columns \(it has: batch, id, pixels\)"):
    api.predict(model_dir, str(tmp_path / "new.tfrecord"), output=str(tmp_path / "x.jsonl"),
                bindings=["prediction.keep_columns = ['key']"])
  with tf.io.TFRecordWriter(str(tmp_path / "no_pixels.tfrecord")) as writer:
    writer.write(example({"id": b"a"}))
  with pytest.raises(FinetuneError, match=r"no_pixels.tfrecord', row 0 has no feature 'pixels'"):
    api.predict(model_dir, str(tmp_path / "no_pixels.tfrecord"), output=str(tmp_path / "x.jsonl"))
  assert not os.path.exists(tmp_path / "x.jsonl")


def test_a_flat_folder_of_images(tmp_path, image_example):
  model_dir = str(tmp_path / "model")
  serving = train_and_export("images/classification.gin", [
      f"MODULE_HANDLE = '{image_example['image_classification']}'",
      f"TRAIN_DIR = '{image_example['parity_train']}'",
      f"EVAL_DIR = '{image_example['parity_eval']}'", "image_folder_data.batch_size = 8",
      "image_folder_data.augmentation = None"
  ], model_dir, steps=3)
  new = tmp_path / "new"
  new.mkdir()
  classes = sorted(os.listdir(image_example["parity_eval"]))
  for name in classes:
    for image in sorted(os.listdir(os.path.join(image_example["parity_eval"], name)))[:3]:
      shutil.copy(os.path.join(image_example["parity_eval"], name, image), new / f"{name}_{image}")
  (new / "notes.txt").write_text("not an image: skipped")
  output = str(tmp_path / "out.csv")
  api.predict(model_dir, str(new), output=output,
              bindings=["prediction.all_probabilities = True"])
  with open(output) as f:
    rows = list(csv.DictReader(f))
  images = sorted(str(p) for p in new.iterdir() if p.suffix != ".txt")
  assert [(r["file"], r["row"]) for r in rows] == [(p, "0") for p in images]
  encoded = [open(p, "rb").read() for p in images]
  answers = serve_here(serving, {"images_bytes": encoded})["probabilities"]
  predicted = np.array([[float(r[f"probabilities_{c}"]) for c in classes] for r in rows])
  np.testing.assert_allclose(predicted, answers, rtol=1e-4, atol=1e-5)
  assert [r["class"] for r in rows] == [classes[i] for i in np.argmax(answers, axis=1)]
  (new / "broken.png").write_bytes(b"GIF89a not really")
  with pytest.raises(FinetuneError, match=r"broken.png' cannot be decoded"):
    api.predict(model_dir, str(new), output=str(tmp_path / "x.csv"))
  with pytest.raises(FinetuneError, match=r"images have no columns"):
    api.predict(model_dir, str(new), bindings=["prediction.keep_columns = ['id']"],
                output=str(tmp_path / "x.csv"))
  assert not os.path.exists(tmp_path / "x.csv")


def test_bert_text_and_pairs_from_raw_text(tmp_path, bert_module):
  texts = task_lines("eval")[:9]
  classifier = str(tmp_path / "classifier")
  serving = train_and_export("text/bert_classifier.gin", [
      f"MODULE_HANDLE = '{bert_module}'", "MAX_SEQ_LENGTH = 32"], classifier)
  with open(tmp_path / "texts.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "text"])
    writer.writerows([i * 10, t] for i, t in enumerate(texts))
  output = str(tmp_path / "texts.jsonl")
  api.predict(classifier, str(tmp_path / "texts.csv"), output=output, bindings=[
      "prediction.keep_columns = ['id', 'text']", "prediction.all_probabilities = True"])
  rows = read_jsonl(output)
  assert [(r["id"], r["text"]) for r in rows] == [(str(i * 10), t) for i, t in enumerate(texts)]
  names = list(rows[0]["probabilities"])
  answers = serve_here(serving, {"text": texts})["probabilities"]
  np.testing.assert_allclose(probabilities_of(rows, names), answers, rtol=1e-4, atol=1e-5)

  pairs = str(tmp_path / "pairs")
  serving = train_and_export("text/bert_pairs.gin", [
      f"MODULE_HANDLE = '{bert_module}'", "MAX_SEQ_LENGTH = 32",
      f"csv_data.train_files = '{pairs_csv(tmp_path / 'train.csv', 'train')}'",
      f"csv_data.eval_files = '{pairs_csv(tmp_path / 'eval.csv', 'eval')}'"], pairs)
  with open(tmp_path / "pairs.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sentence2", "sentence1"])  # the other order than training's; no label
    writer.writerows([texts[i + 1], texts[i]] for i in range(8))
  output = str(tmp_path / "pairs.jsonl")
  api.predict(pairs, str(tmp_path / "pairs.csv"), output=output,
              bindings=["prediction.all_probabilities = True"])
  rows = read_jsonl(output)
  assert [(r["file"], r["row"]) for r in rows] == [(str(tmp_path / "pairs.csv"), i)
                                                   for i in range(8)]
  answers = serve_here(serving, {"sentence1": texts[:8], "sentence2": texts[1:9]})
  np.testing.assert_allclose(probabilities_of(rows, ["different", "same"]),
                             answers["probabilities"], rtol=1e-4, atol=1e-5)


def test_token_tagging_gives_one_tag_per_word(tmp_path, bert_module):
  model_dir = str(tmp_path / "model")
  serving = train_and_export("text/bert_tagging.gin", [
      f"MODULE_HANDLE = '{bert_module}'", "MAX_SEQ_LENGTH = 24",
      f"csv_data.train_files = '{tags_csv(tmp_path / 'train.csv', 'train')}'",
      f"csv_data.eval_files = '{tags_csv(tmp_path / 'eval.csv', 'eval')}'",
      "token_tagging_head.tags = ['CAP', 'NUM', 'WORD']"], model_dir, steps=3)
  texts = task_lines("eval")[:6] + ["open \x01\x02 file", " ".join(["word"] * 30)]
  with open(tmp_path / "new.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["text"])
    writer.writerows([t] for t in texts)
  api.predict(model_dir, str(tmp_path / "new.csv"), output=str(tmp_path / "tags.jsonl"))
  rows = read_jsonl(tmp_path / "tags.jsonl")
  assert len(rows) == len(texts)
  vocab = vocabulary(bert_module)
  served = serve_here(serving, {"text": texts})["tag_ids"]
  names = ["CAP", "NUM", "WORD"]
  for row, text, ids in zip(rows, texts, served):
    tags = row["tags"]
    assert len(tags) == len(text.split())  # tags[i] is word i's
    if "\x01" not in text:  # (the reference counts a word without wordpieces as kept)
      assert sum(t is not None for t in tags) == kept_words(text, vocab, 24)
    assert tags == [names[i] if i >= 0 else None for i in ids[:len(tags)]] + [None] * (
        len(tags) - len(ids[:len(tags)]))
  assert rows[-2]["tags"][1] is None  # a word of control characters: no wordpiece, no tag
  assert rows[-1]["tags"][-1] is None  # past max_seq_length
  output = str(tmp_path / "tags.csv")
  api.predict(model_dir, str(tmp_path / "new.csv"), output=output)
  with open(output) as f:
    table = list(csv.DictReader(f))
  assert [r["tags"].split(" ") for r in table] == [
      ["" if t is None else t for t in r["tags"]] for r in rows]
  with pytest.raises(FinetuneError, match=r"prediction.top_k apply to classification heads"):
    api.predict(model_dir, str(tmp_path / "new.csv"), output=str(tmp_path / "x.csv"),
                bindings=["prediction.top_k = 2"])


def test_a_tpu_trained_model_predicts_every_row_on_a_cpu_host(tmp_path, digits_module):
  """The TPU runtime refuses predict; the same model_dir predicts with the Estimator runtime,
  a partial last batch included."""
  model_dir = str(tmp_path / "model")
  serving = train_and_export("digits/finetune.gin", [
      f"MODULE_HANDLE = '{digits_module}'", "csv_data.eval_batch_size = 8",
      "training.steps_per_run = 1"] + TPU_ON_CPU, model_dir)
  source = os.path.join(helpers.REPO, "examples", "digits", "data", "finetune_eval.csv")
  with open(source) as f:
    rows = list(csv.DictReader(f))[:13]  # a batch of 8 and one of 5
  columns = [f"pixel_{i}" for i in range(64)]
  with open(tmp_path / "new.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, columns)
    writer.writeheader()
    writer.writerows({c: r[c] for c in columns} for r in rows)
  output = str(tmp_path / "out.jsonl")
  with pytest.raises(FinetuneError, match=r"or on a CPU or GPU host with --gin_bindings="
                     r"'experiment.runtime = @estimator_runtime\(\)'"):
    api.predict(model_dir, str(tmp_path / "new.csv"), output=output)
  api.predict(model_dir, str(tmp_path / "new.csv"), output=output,
              bindings=["experiment.runtime = @estimator_runtime()",
                        "prediction.all_probabilities = True"])
  predicted = read_jsonl(output)
  assert [r["row"] for r in predicted] == list(range(13))
  pixels = np.array([[float(r[c]) for c in columns] for r in rows], np.float32)
  answers = serve_here(serving, {"pixels": pixels})["probabilities"]
  np.testing.assert_allclose(probabilities_of(predicted, ["even", "odd"]), answers, rtol=1e-5,
                             atol=1e-6)
