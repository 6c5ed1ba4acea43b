"""CSV files with a header row: text, numeric and grouped numeric columns."""

import fnmatch

import gin
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs.base import DataSource, EVAL, TRAIN, dtype_named, glob_files


def _has_data_row(path):
  with tf.io.gfile.GFile(path) as f:
    f.readline()
    return bool(f.readline().strip())


@gin.configurable("csv_data")
class CsvData(DataSource):
  """CSV files with a header row.

  Args:
    train_files, eval_files: file path, glob pattern, or list of them.
    label_column: the column holding the label.
    column_types: {column: "string" | "float" | "int"}; other feature columns are floats,
      the label column is read as a string unless declared (training/heads.py converts it).
    column_groups: {feature name: glob over column names}; matching numeric columns are
      stacked, in header order, into one vector feature (e.g. {"pixels": "pixel_*"}).
    feature_columns: the columns to use as features (default: all but the label).
    field_delim: the CSV delimiter.
  """

  def __init__(self,
               train_files=gin.REQUIRED,
               eval_files=gin.REQUIRED,
               label_column=gin.REQUIRED,
               column_types=None,
               column_groups=None,
               feature_columns=None,
               field_delim=",",
               **pipeline_options):
    super().__init__(**pipeline_options)
    self.files = {TRAIN: train_files, EVAL: eval_files}
    self.label_column = label_column
    self.column_types = dict(column_types or {})
    self.column_groups = dict(column_groups or {})
    self.field_delim = field_delim
    self.header = self._read_header()
    self._check_columns(feature_columns)
    grouped = {c for cols in self._groups().values() for c in cols}
    self.feature_columns = [
        c for c in (feature_columns or self.header) if c != label_column and c not in grouped
    ]

  def _read_header(self):
    first = glob_files(self.files[TRAIN], "csv_data.train_files")[0]
    with tf.io.gfile.GFile(first) as f:
      line = f.readline().lstrip("\ufeff").strip()  # a UTF-8 byte-order mark is no column name
    if not line:
      raise FinetuneError(f"CSV file '{first}' is empty; it needs a header row.")
    header = [c.strip() for c in line.split(self.field_delim)]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
      raise FinetuneError(f"The header of CSV file '{first}' names {', '.join(repeated)} more "
                          "than once; column names must be unique.")
    return header

  def _check_columns(self, feature_columns):
    asked = [self.label_column] + list(feature_columns or []) + list(self.column_types)
    for column in asked:
      if column not in self.header:
        raise FinetuneError(f"Column '{column}' is not in the CSV header; the columns are: "
                            f"{', '.join(self.header)}.")
    for name, pattern in self.column_groups.items():
      if not fnmatch.filter(self.header, pattern):
        raise FinetuneError(f"Column group '{name}' = '{pattern}' matches no CSV column; the "
                            f"columns are: {', '.join(self.header)}.")

  def _groups(self):
    return {
        name: [c for c in self.header if fnmatch.fnmatch(c, pattern)]
        for name, pattern in self.column_groups.items()
    }

  def _type(self, column):
    default = "string" if column == self.label_column else "float"
    return dtype_named(self.column_types.get(column, default), f"column '{column}'")

  def raw_feature_specs(self):
    specs = {c: tf.TensorSpec([], self._type(c)) for c in self.feature_columns}
    for name, columns in self._groups().items():
      specs[name] = tf.TensorSpec([len(columns)], tf.float32)
    return specs

  def check_not_empty(self):
    for split in (TRAIN, EVAL):
      files = glob_files(self.files[split], f"csv_data.{split}_files")
      if not any(_has_data_row(f) for f in files):
        raise FinetuneError(f"csv_data.{split}_files ({', '.join(files)}) have a header but "
                            "no data rows.")

  def _records(self, split):
    files = glob_files(self.files[split], f"csv_data.{split}_files")
    if len(files) == 1:  # no per-file function to trace: a faster start
      return tf.data.TextLineDataset(files[0]).skip(1)
    return tf.data.Dataset.from_tensor_slices(files).flat_map(
        lambda f: tf.data.TextLineDataset(f).skip(1))

  def _parse_batch(self, lines):
    defaults = [tf.constant([], dtype=self._type(c)) for c in self.header]
    values = tf.io.decode_csv(lines, record_defaults=defaults, field_delim=self.field_delim)
    by_name = dict(zip(self.header, values))
    features = {c: by_name[c] for c in self.feature_columns}
    for name, columns in self._groups().items():
      features[name] = tf.stack([tf.cast(by_name[c], tf.float32) for c in columns], axis=1)
    return features, by_name[self.label_column]
