"""CSV files to predict on: the training data's feature columns, in any order, by the
header of these files; the label column optional; other columns allowed (and keepable).

Rows are the non-blank lines after the header, numbered from 0 as pandas' read_csv numbers
them. Lines are split and blank ones skipped the way TensorFlow's line reader does (at LF, a
trailing CR dropped, blank: only ASCII whitespace), so the dataset's rows and the kept
columns' separate read agree; the prediction loop checks that they do, row by row.
"""

import contextlib
import csv
import sys
import zlib

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import scan
from finetune.inputs import unlabelled

_BLANK = b" \t\n\r\f\v"


@contextlib.contextmanager
def _long_fields():
  """Python's csv refuses a field over 131,072 characters, which TensorFlow reads: a long
  text is no error here."""
  before = csv.field_size_limit()
  csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
  try:
    yield
  finally:
    csv.field_size_limit(before)


def _lines(path):
  """(line number from 1, text) of every non-blank data line, as TextLineDataset splits."""
  try:
    with scan.open_bytes(path) as f:
      for number, raw in enumerate(f, start=1):
        if number == 1 or not raw.strip(_BLANK):
          continue
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        yield number, raw.decode("utf-8", "replace")
  except (EOFError, zlib.error, OSError) as e:  # gzip's BadGzipFile is an OSError
    raise FinetuneError(f"Prediction file '{path}' cannot be read to its end ({e}): a "
                        "truncated or damaged gzip file? Write it again.") from e


def _fields(line, delimiter):
  """The fields of one line, or None where Python's csv cannot split it (a CR in a field)."""
  try:
    return next(csv.reader([line], delimiter=delimiter), [])
  except csv.Error:
    return None


class UnlabelledCsv(unlabelled.UnlabelledFiles):
  """`source`: the training CsvData (its feature columns, types, groups and delimiter)."""

  def __init__(self, source, paths, keep_columns):
    super().__init__(paths, keep_columns)
    self.source = source
    self.delimiter = source.field_delim
    self.header = None

  def _read_header(self, path):
    with scan.open_text(path) as f:
      line = f.readline().strip()
    if not line:
      raise FinetuneError(f"Prediction file '{path}' is empty or its first line is blank; it "
                          "needs a header row first, naming its columns "
                          f"({', '.join(self.source.required_columns())}), then rows.")
    return [c.strip() for c in _fields(line, self.delimiter) or [line]]

  def check(self):
    for path in self.paths:
      problem = scan.unreadable_compression(path)
      if problem:
        raise FinetuneError(f"Prediction file {problem}.")
      if scan.cr_line_endings(path):
        raise FinetuneError(f"Prediction file '{path}' ends its lines with CR alone (classic Mac "
                            "OS); save it with LF or CRLF line endings.")
      header = self._read_header(path)
      if self.header is None:
        self._check_columns(path, header)
        self.header = header
      elif header != self.header:
        raise FinetuneError(f"The header of prediction file '{path}' ({', '.join(header)}) "
                            f"differs from that of '{self.paths[0]}' ({', '.join(self.header)}); "
                            "files predicted on together need one header.")
    self.row_counts = []
    for path in self.paths:
      problem, rows = self._scan(path)
      if problem:
        raise FinetuneError(problem)
      if not rows:
        raise FinetuneError(f"Prediction file '{path}' has a header but no rows.")
      self.row_counts.append(rows)

  def _check_columns(self, path, header):
    required = self.source.required_columns()
    missing = [c for c in required if c not in header]
    if missing:
      extra = [c for c in header if c not in self.source.header]
      found = scan.other_delimiter(header, self.delimiter)
      hint = (f" Its header looks {found!r}-separated (csv_data.field_delim is "
              f"{self.delimiter!r})." if found else "")
      raise FinetuneError(
          f"Prediction file '{path}' lacks the training data's feature columns "
          f"{', '.join(missing)}; it has extra columns {', '.join(extra) or '(none)'}. It needs "
          f"the columns the model was trained on: {', '.join(required)} (the label and other "
          f"columns are optional).{hint}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
      raise FinetuneError(f"The header of prediction file '{path}' names "
                          f"{', '.join(repeated)} more than once; column names must be unique.")
    absent = [c for c in self.keep_columns if c not in header]
    if absent:
      raise FinetuneError(f"prediction.keep_columns names {', '.join(absent)}, not in the "
                          f"header of '{path}'; its columns are: {', '.join(header)}.")

  def _scan(self, path):
    """(the first bad row described, or None; the number of rows): every row, whole."""
    numeric = {c: int if self.source.column_type(c).is_integer else float
               for c in self.source.required_columns()
               if self.source.column_type(c) != tf.string}
    positions = {c: self.header.index(c) for c in numeric}
    rows = 0
    with _long_fields():
      for number, line in _lines(path):
        where = f"Prediction file '{path}', row {rows} (line {number})"
        fault = scan.quoting_fault(line, self.delimiter)
        if fault:
          return f"{where}: {fault}. {scan.QUOTING_ADVICE}.", rows
        fields = _fields(line, self.delimiter)
        if fields is None:
          return (f"{where} holds a carriage return (CR) inside a field; remove it or quote "
                  "the field."), rows
        if len(fields) != len(self.header):
          return (f"{where} has {len(fields)} fields where the header has "
                  f"{len(self.header)}: quote fields that contain the delimiter, or fill in "
                  "the missing value."), rows
        for column, kind in numeric.items():
          value = fields[positions[column]]
          if not scan.parses_number(value, kind):
            wanted = "an int" if kind is int else "a finite float"
            return (f"{where}: column '{column}' is '{scan.clipped(value)}', not {wanted} as "
                    "in training."), rows
        rows += 1
    return None, rows

  def find_problem(self):
    for path in self.paths:
      problem, _ = self._scan(path)
      if problem:
        return problem
    return None

  def dataset(self):
    compressions = ["GZIP" if scan.is_gzip(p) else "" for p in self.paths]

    def records_of(path, compression):  # gzip-compressed and plain files may mix
      lines = tf.data.TextLineDataset(path, compression_type=compression).skip(1)
      return lines.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)

    return unlabelled.per_file(self.paths, records_of, compressions)

  def parse_batch(self, records):
    typed = set(self.source.required_columns())  # the rest is text: a label, an id, a note
    return self.source.features_of(self.source.decode_lines(records, self.header, typed))

  def keys(self):
    positions = [self.header.index(c) for c in self.keep_columns]
    with _long_fields():
      for index, path in enumerate(self.paths):
        for row, (_, line) in enumerate(_lines(path)):
          fields = _fields(line, self.delimiter)
          yield index, row, {c: fields[p] for c, p in zip(self.keep_columns, positions)}
