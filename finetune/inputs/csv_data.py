"""CSV files with a header row: text, numeric and grouped numeric columns."""

import csv
import fnmatch
from typing import Mapping, Optional, Sequence, Tuple, Union

import gin
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import scan
from finetune.inputs import base
from finetune.inputs import unlabelled_csv
from finetune.inputs.base import DataSource, EVAL, TRAIN, dtype_named, glob_files
from finetune.inputs.base import Files
from finetune.inputs.image_ops import Augmentation
from finetune.inputs.tokenization import BertTokenization


def _has_data_row(path):
  with scan.open_text(path) as f:
    f.readline()
    return any(line.strip() for line in f)


def _header_line(path):
  with scan.open_text(path) as f:  # a UTF-8 byte-order mark is no column name
    return f.readline().strip()


PREFLIGHT_LINES = 10_000  # per file before training; the error path reads the whole file


@gin.configurable("csv_data")
class CsvData(DataSource):
  """CSV files with a header row, plain or gzip-compressed (detected from the bytes).

  Blank lines are skipped; an empty string field is the empty string, an empty numeric
  field or label is an error that names its row.

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
               train_files: Files = gin.REQUIRED,
               eval_files: Files = gin.REQUIRED,
               label_column: str = gin.REQUIRED,
               column_types: Optional[Mapping[str, str]] = None,
               column_groups: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
               feature_columns: Optional[Sequence[str]] = None,
               field_delim: str = ",",
               # The pipeline options every data source takes (base.DataSource), named so that
               # gin checks their spelling.
               batch_size: int = 32,
               eval_batch_size: Optional[int] = None,
               shuffle_buffer_size: int = 10000,
               seed: Optional[int] = None,
               cache: bool = True,
               augmentation: Optional[Augmentation] = None,
               image_size: Optional[Tuple[int, int]] = None,
               tokenization: Optional[BertTokenization] = None):
    super().__init__(batch_size, eval_batch_size, shuffle_buffer_size, seed, cache, augmentation,
                     image_size, tokenization)
    self.files = {TRAIN: train_files, EVAL: eval_files}
    self.label_column = label_column
    self.column_types = dict(column_types or {})
    self.column_groups = dict(column_groups or {})
    if len(field_delim) != 1 or field_delim in "\"\r\n":
      raise FinetuneError(f"csv_data.field_delim must be one character (not a quote or a line "
                          f"break), e.g. ',' or '\\t'; got {field_delim!r}.")
    self.field_delim = field_delim
    self._compressions = {}
    self.header = self._read_header()
    self._check_columns(feature_columns)
    grouped = {c for cols in self.groups().values() for c in cols}
    for name, columns in self.groups().items():
      text = [c for c in columns if self.column_type(c) == tf.string]
      if text:
        raise FinetuneError(f"Column group '{name}' takes {', '.join(text)}, which "
                            "csv_data.column_types makes a string; a group stacks numbers. Leave "
                            "it out of the group's pattern or give it a number type.")
    chosen = self.header if feature_columns is None else feature_columns  # [] means none
    self.feature_columns = [c for c in chosen if c != label_column and c not in grouped]
    if not self.feature_columns and not self.groups():
      raise FinetuneError("csv_data has no features: feature_columns is empty and no "
                          "column_groups are set; name the feature columns (or leave "
                          "feature_columns unset for every column but the label).")

  def _check_delimiter(self, path, columns):
    """A header of one column cannot hold a label and a feature: name the delimiter that
    splits it (a semicolon-separated file from a European-locale spreadsheet)."""
    if len(columns) != 1:
      return
    found = scan.other_delimiter(columns, self.field_delim)
    hint = (f"; it looks {found!r}-separated: set csv_data.field_delim = {found!r}"
            if found else "")
    shown = columns[0] if len(columns[0]) <= 60 else columns[0][:57] + "..."
    raise FinetuneError(f"CSV file '{path}' has one column, {shown!r}, with "
                        f"csv_data.field_delim = {self.field_delim!r}; a CSV needs a label "
                        f"column and feature columns{hint}.")

  def _read_header(self):
    """The header every train and eval file shares (a file that differs is refused)."""
    header, first = None, None
    for split, path in self.split_files("csv_data", base.CHECKED_FILES):
      line = _header_line(path)
      if not line:
        raise FinetuneError(f"CSV file '{path}' is empty; it needs a header row.")
      compressed = scan.unreadable_compression(path)
      if compressed:
        raise FinetuneError(f"CSV file {compressed}.")
      if scan.cr_line_endings(path):
        raise FinetuneError(f"CSV file '{path}' ends its lines with CR alone (classic Mac OS); "
                            "TensorFlow's reader would see one line. Save it with LF or CRLF "
                            "line endings.")
      # csv reads a quoted header (R's write.csv, pandas' QUOTE_ALL) as TensorFlow reads the
      # rows: a column named "pixel_0" is pixel_0, and a quoted delimiter is no boundary.
      columns = [c.strip() for c in next(csv.reader([line], delimiter=self.field_delim))]
      self._check_delimiter(path, columns)
      if header is None:
        header, first = columns, path
      elif columns != header:
        i = next((i for i, (a, b) in enumerate(zip(columns, header)) if a != b),
                 min(len(columns), len(header)))
        here, there = (c[i] if i < len(c) else "nothing" for c in (columns, header))
        raise FinetuneError(
            f"The header of {split} file '{path}' differs from that of '{first}': its column "
            f"{i + 1} is '{here}' where '{first}' has '{there}' ({len(columns)} and "
            f"{len(header)} columns); every file needs the same columns in the same order.")
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
      if self.label_column in fnmatch.filter(self.header, pattern):
        raise FinetuneError(f"The label column '{self.label_column}' is in column group "
                            f"'{name}' = '{pattern}': the model would see its own label. Choose "
                            "a pattern that leaves it out.")

  def groups(self):
    """{group feature: its columns, in header order}."""
    return {
        name: [c for c in self.header if fnmatch.fnmatch(c, pattern)]
        for name, pattern in self.column_groups.items()
    }

  def column_type(self, column):
    """The tf dtype a column is read as in training."""
    default = "string" if column == self.label_column else "float"
    return dtype_named(self.column_types.get(column, default), f"column '{column}'")

  def raw_feature_specs(self):
    specs = {c: tf.TensorSpec([], self.column_type(c)) for c in self.feature_columns}
    for name, columns in self.groups().items():
      specs[name] = tf.TensorSpec([len(columns)], tf.float32)
    return specs

  def check_not_empty(self):
    """Every split has a data row, and the first lines of its first files are records
    TensorFlow's reader can read (quoting), found before training rather than in its step."""
    for split in (TRAIN, EVAL):
      files = glob_files(self.files[split], f"csv_data.{split}_files")
      for path in files[:base.CHECKED_FILES]:
        problem = scan.csv_quoting_problem(path, self.field_delim, PREFLIGHT_LINES)
        if problem:
          raise FinetuneError(problem)
      if not any(_has_data_row(f) for f in files):
        raise FinetuneError(f"csv_data.{split}_files ({', '.join(files)}) have a header but "
                            "no data rows.")

  def unlabelled_files(self, patterns, keep_columns):
    paths = glob_files(patterns, "--predict_files")
    return unlabelled_csv.UnlabelledCsv(self, paths, keep_columns)

  def _compression(self, split, files):
    """"GZIP" or "" for the split's files (read once; the first CHECKED_FILES decide)."""
    if split not in self._compressions:
      gzipped = {scan.is_gzip(f) for f in files[:base.CHECKED_FILES]}
      if len(gzipped) > 1:
        raise FinetuneError(f"csv_data.{split}_files mix gzip-compressed and plain files "
                            f"({', '.join(files)}); compress all or none.")
      self._compressions[split] = "GZIP" if gzipped.pop() else ""
    return self._compressions[split]

  def _records(self, split):
    files = glob_files(self.files[split], f"csv_data.{split}_files")
    compression = self._compression(split, files)
    if len(files) == 1:  # no per-file function to trace: a faster start
      lines = tf.data.TextLineDataset(files[0], compression_type=compression).skip(1)
    else:
      lines = tf.data.Dataset.from_tensor_slices(files).flat_map(
          lambda f: tf.data.TextLineDataset(f, compression_type=compression).skip(1))
    return lines.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)

  def find_problem(self, label_problem):
    numeric = {c: int if self.column_type(c).is_integer else float
               for c in self.header if self.column_type(c) != tf.string and c != self.label_column}
    for _, path in self.split_files("csv_data"):
      problem = scan.csv_problem(path, self.header, self.field_delim, numeric,
                                 self.label_column, label_problem)
      if problem:
        return problem
    return None

  def required_columns(self):
    """The columns a model of this source reads: the feature columns and grouped columns."""
    return list(self.feature_columns) + [c for cols in self.groups().values() for c in cols]

  def decode_lines(self, lines, header, typed_columns):
    """{column: values} of a batch of CSV lines with `header`: `typed_columns` as training
    reads them (numbers and the label required, a string feature may be empty), every other
    column as optional text (a label or an id where predicting)."""
    defaults = []
    for column in header:
      kind = self.column_type(column) if column in typed_columns else tf.string
      optional = column not in typed_columns or (kind == tf.string and column != self.label_column)
      defaults.append(tf.constant([""] if optional else [], dtype=kind))
    values = tf.io.decode_csv(lines, record_defaults=defaults, field_delim=self.field_delim)
    return dict(zip(header, values))

  def features_of(self, values):
    """The model's features from decoded columns: feature columns, then stacked groups."""
    features = {c: values[c] for c in self.feature_columns}
    for name, columns in self.groups().items():
      features[name] = tf.stack([tf.cast(values[c], tf.float32) for c in columns], axis=1)
    return features

  def _parse_batch(self, lines):
    values = self.decode_lines(lines, self.header, set(self.header))
    return self.features_of(values), values[self.label_column]
