"""Input pipelines: CSV (groups, types, string labels), TFRecord, arrays; labels for each head."""

import os

import numpy as np
import pytest
import tensorflow as tf

from finetune.inputs import base as data_lib

from finetune.inputs.tfrecord_data import TFRecordData

from finetune.inputs.csv_data import CsvData
from finetune.training import heads
from finetune.errors import FinetuneError
from tests import builders
from tests import helpers

DIGITS = builders.DIGITS_DATA


def all_batches(input_fn):
  with tf.Graph().as_default():
    features, labels = tf.compat.v1.data.make_one_shot_iterator(input_fn()).get_next()
    out = []
    with tf.compat.v1.Session() as session:
      while True:
        try:
          out.append(session.run((features, labels)))
        except tf.errors.OutOfRangeError:
          return out


def digits_csv(**kwargs):
  return CsvData(train_files=os.path.join(DIGITS, "finetune_train.csv"),
                          eval_files=os.path.join(DIGITS, "finetune_eval.csv"),
                          label_column="parity",
                          column_groups={"pixels": "pixel_*"},
                          **kwargs)


def test_csv_column_group_stacks_pixels_in_header_order():
  source = digits_csv(eval_batch_size=100)
  assert source.feature_specs() == {"pixels": tf.TensorSpec([64], tf.float32)}
  batches = all_batches(source.input_fn(data_lib.EVAL))
  expected_x, expected_y = builders.digits_arrays("eval")
  pixels = np.concatenate([f["pixels"] for f, _ in batches])
  labels = np.concatenate([l for _, l in batches])
  np.testing.assert_array_equal(pixels, expected_x)  # the whole eval set, once, in order
  assert [l.decode() for l in labels] == list(expected_y)
  assert labels.dtype == object  # strings, converted for the head in the model_fn


def test_csv_text_and_numeric_columns(tmp_path):
  path = tmp_path / "reviews.csv"
  path.write_text("text,stars,label\ngreat film,5,1\n\"dull, long\",2,0\n")
  source = CsvData(train_files=str(path),
                            eval_files=str(path),
                            label_column="label",
                            column_types={
                                "text": "string",
                                "label": "int"
                            },
                            batch_size=2)
  assert source.feature_specs() == {
      "text": tf.TensorSpec([], tf.string),
      "stars": tf.TensorSpec([], tf.float32)
  }
  (features, labels), = all_batches(source.input_fn(data_lib.EVAL))
  assert list(features["text"]) == [b"great film", b"dull, long"]
  np.testing.assert_array_equal(features["stars"], [5.0, 2.0])
  np.testing.assert_array_equal(labels, [1, 0])


def test_training_input_shuffles_and_repeats():
  source = digits_csv(batch_size=16, seed=3)
  with tf.Graph().as_default():
    features, _ = tf.compat.v1.data.make_one_shot_iterator(source.input_fn(
        data_lib.TRAIN)()).get_next()
    with tf.compat.v1.Session() as session:
      seen = np.concatenate([session.run(features)["pixels"] for _ in range(5)])
  rows = builders.digits_arrays("train")[0]  # 40 rows: 80 seen means it repeated
  assert len(seen) == 80
  assert not np.array_equal(seen[:16], rows[:16])
  assert sorted(map(tuple, seen[:40])) == sorted(map(tuple, rows))  # each once per epoch


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_column="label"), "Column 'label' is not in the CSV header; the columns are: "
     "pixel_0"),
    (dict(label_column="parity", column_groups={"image":
        "px_*"}), "Column group 'image' = 'px_\\*' matches no CSV column"),
    (dict(label_column="parity", train_files="/nonexistent/*.csv"),
     "No files match csv_data.train_files = '/nonexistent/\\*.csv'"),
])
def test_csv_mistakes_name_what_exists(kwargs, message):
  args = dict(train_files=os.path.join(DIGITS, "finetune_train.csv"),
              eval_files=os.path.join(DIGITS, "finetune_eval.csv"))
  args.update(kwargs)
  with pytest.raises(FinetuneError, match=message):
    CsvData(**args)


def write_tfrecord(path, pixels, labels):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for row, label in zip(pixels, labels):
      example = tf.train.Example(features=tf.train.Features(
          feature={
              "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=row)),
              "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
          }))
      writer.write(example.SerializeToString())


def test_tfrecord_source_fine_tunes(tmp_path, digits_module):
  (train_x, train_y), (eval_x, eval_y) = [(f["pixels"], y) for f, y in builders.finetune_arrays()]
  write_tfrecord(tmp_path / "train.tfrecord", train_x, train_y)
  write_tfrecord(tmp_path / "eval.tfrecord", eval_x, eval_y)
  source = TFRecordData(train_files=str(tmp_path / "train.tfrecord"),
                                 eval_files=str(tmp_path / "*eval*"),
                                 feature_spec={"pixels": ("float", [64])},
                                 label_key="label",
                                 batch_size=16)
  assert source.feature_specs() == {"pixels": tf.TensorSpec([64], tf.float32)}
  (features, labels), = all_batches(
      TFRecordData(train_files=str(tmp_path / "train.tfrecord"),
                            eval_files=str(tmp_path / "eval.tfrecord"),
                            feature_spec={
                                "pixels": ("float", [64])
                            },
                            label_key="label",
                            eval_batch_size=1000).input_fn(data_lib.EVAL))
  np.testing.assert_array_equal(features["pixels"], eval_x)
  np.testing.assert_array_equal(labels, eval_y)
  metrics = helpers.run(tmp_path / "model", digits_module, data=source, train_steps=5)
  assert metrics["global_step"] == 5


@pytest.mark.parametrize("head, labels, expected", [
    (lambda: heads.multi_class_head(3, label_vocabulary=["a", "b", "c"]), [b"b", b"c"
                                                                          ], [b"b", b"c"]),
    (lambda: heads.multi_class_head(10, label_vocabulary=[str(i) for i in range(10)]), [5, 7],
     [b"5", b"7"]),
    (lambda: heads.multi_class_head(10), [b" 5", b"7"], [5, 7]),
    (lambda: heads.regression_head(), [b"1.5", b"-2"], [1.5, -2.0]),
    (lambda: heads.binary_class_head(), [1, 0], [1, 0]),
])
def test_labels_are_adapted_to_the_head(head, labels, expected):
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    got = session.run(head().adapt_labels(tf.constant(labels)))
  assert list(got) == expected


def test_multi_label_strings_become_sparse_ids():
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    sparse = session.run(heads.multi_label_head(4).adapt_labels(tf.constant([b"1|3", b"0"])))
  assert sparse.indices.tolist() == [[0, 0], [0, 1], [1, 0]]
  assert sparse.values.tolist() == [1, 3, 0]


def test_head_vocabulary_must_match_class_count():
  with pytest.raises(FinetuneError, match="label_vocabulary has 2 entries but n_classes = 3"):
    heads.multi_class_head(3, label_vocabulary=["a", "b"])


def test_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
  with open(os.path.join(DIGITS, "finetune_train.csv"), encoding="utf-8") as f:
    text = f.read()
  path = tmp_path / "bom.csv"
  path.write_text("\ufeff" + text, encoding="utf-8")
  source = CsvData(train_files=str(path), eval_files=str(path), label_column="parity",
                   column_groups={"pixels": "pixel_*"})
  assert source.header[0] == "pixel_0"
  assert source.feature_specs()["pixels"].shape == [64]


def test_gzip_csv_with_blank_lines_and_an_empty_text(tmp_path):
  """A .csv.gz is read as is; blank lines are skipped; an empty text is the empty string."""
  import gzip  # pylint: disable=g-import-not-at-top
  path = tmp_path / "reviews.csv.gz"
  with gzip.open(path, "wt") as f:
    f.write("text,stars,label\ngreat film,5,1\n\n,2,0\n\n")
  source = CsvData(train_files=str(path), eval_files=str(path), label_column="label",
                   column_types={"text": "string", "label": "int"}, batch_size=4)
  (features, labels), = all_batches(source.input_fn(data_lib.EVAL))
  assert list(features["text"]) == [b"great film", b""]
  np.testing.assert_array_equal(features["stars"], [5.0, 2.0])
  np.testing.assert_array_equal(labels, [1, 0])


def test_mixed_gzip_and_plain_csv_files_are_refused(tmp_path):
  import gzip  # pylint: disable=g-import-not-at-top
  plain = tmp_path / "a.csv"
  plain.write_text("x,label\n1,0\n")
  with gzip.open(tmp_path / "b.csv", "wt") as f:
    f.write("x,label\n2,1\n")
  source = CsvData(train_files=str(tmp_path / "*.csv"), eval_files=str(plain),
                   label_column="label")
  with pytest.raises(FinetuneError, match="mix gzip-compressed and plain files"):
    source.input_fn(data_lib.TRAIN)()


@pytest.mark.parametrize("case, expected", [
    ("wrong_kind", "Record 0 of {path} holds feature 'pixels' as float_list where the spec says "
     "int64_list (int64)"),
    ("wrong_length", "Record 3 of {path} holds 63 values for feature 'pixels' where its shape "
     "[64] needs 64"),
    ("not_examples", "Record 0 of {path} is not a tf.train.Example"),
])
def test_tfrecord_records_that_do_not_fit_the_spec_are_named(tmp_path, digits_module, case,
                                                             expected):
  from finetune import api  # pylint: disable=g-import-not-at-top
  (train_x, train_y), _ = [(f["pixels"], y) for f, y in builders.finetune_arrays()]
  path = tmp_path / "train.tfrecord"
  if case == "not_examples":
    with tf.io.TFRecordWriter(str(path)) as writer:
      for _ in range(8):
        writer.write(b"a record that is not an Example")
  else:
    rows = [list(r) for r in train_x[:40]]
    if case == "wrong_length":
      rows[3] = rows[3][:63]
    write_tfrecord(path, rows, [int(y) % 2 for y in train_y[:40]])
  spec = {"wrong_kind": "('int', [64])", "wrong_length": "('float', [64])",
          "not_examples": "('float', [64])"}[case]
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [
        f"MODULE_HANDLE = '{digits_module}'", "experiment.data = @tfrecord_data()",
        f"tfrecord_data.train_files = '{path}'", f"tfrecord_data.eval_files = '{path}'",
        f"tfrecord_data.feature_spec = {{'pixels': {spec}}}", "tfrecord_data.label_key = 'label'",
        "binary_class_head.label_vocabulary = None", "hub_module.input_mapping = None",
        "TRAIN_STEPS = 2", "learning_rate_schedule.warmup_steps = 0"
    ], model_dir=str(tmp_path / "run"), schedule="train")
  assert str(raised.value).startswith(expected.format(path=path)), str(raised.value)
  assert not (tmp_path / "run").exists()
