"""CSV files to predict on: the training data's feature columns, in any order, by the
header of these files; the label column optional; other columns allowed (and keepable).

Rows are the non-blank lines after the header, numbered from 0 as pandas' read_csv numbers
them. Lines are split and blank ones skipped the way TensorFlow's line reader does (at LF, a
trailing CR dropped, blank: only ASCII whitespace), so the dataset's rows and the kept
columns' separate read agree; the prediction loop checks that they do, row by row.
"""

import csv

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import scan
from finetune.inputs import unlabelled

_BLANK = b" \t\n\r\f\v"


def _lines(path):
  """(line number from 1, text) of every non-blank data line, as TextLineDataset splits."""
  with scan.open_bytes(path) as f:
    for number, raw in enumerate(f, start=1):
      if number == 1 or not raw.strip(_BLANK):
        continue
      raw = raw[:-1] if raw.endswith(b"\n") else raw
      raw = raw[:-1] if raw.endswith(b"\r") else raw
      yield number, raw.decode("utf-8", "replace")


class UnlabelledCsv(unlabelled.UnlabelledFiles):
  """`source`: the training CsvData (its feature columns, types, groups and delimiter)."""

  def __init__(self, source, paths, keep_columns):
    super().__init__(paths, keep_columns)
    self.source = source
    self.delimiter = source.field_delim
    self.header = None
    self.compressions = []  # "GZIP" or "" per file

  def _required(self):
    grouped = [c for columns in self.source._groups().values() for c in columns]  # pylint: disable=protected-access
    return list(self.source.feature_columns) + grouped

  def _types(self):
    """{column: tf dtype} of every column of these files: training's for features, strings
    for the rest (a label, an id)."""
    required = set(self._required())
    return {c: self.source._type(c) if c in required else tf.string for c in self.header}  # pylint: disable=protected-access

  def _read_header(self, path):
    with scan.open_text(path) as f:
      line = f.readline().strip()
    if not line:
      raise FinetuneError(f"Prediction file '{path}' is empty; it needs a header row naming "
                          f"its columns ({', '.join(self._required())}) and rows.")
    return [c.strip() for c in next(csv.reader([line], delimiter=self.delimiter))]

  def check(self):
    for path in self.paths:
      problem = scan.unreadable_compression(path)
      if problem:
        raise FinetuneError(f"Prediction file {problem}.")
      if scan.cr_line_endings(path):
        raise FinetuneError(f"Prediction file '{path}' ends its lines with CR alone (classic Mac "
                            "OS); save it with LF or CRLF line endings.")
      self.compressions.append("GZIP" if scan.is_gzip(path) else "")
      header = self._read_header(path)
      if self.header is None:
        self._check_columns(path, header)
        self.header = header
      elif header != self.header:
        raise FinetuneError(f"The header of prediction file '{path}' ({', '.join(header)}) "
                            f"differs from that of '{self.paths[0]}' ({', '.join(self.header)}); "
                            "files predicted on together need one header.")
    for path in self.paths:
      problem, rows = self._scan(path)
      if problem:
        raise FinetuneError(problem)
      if not rows:
        raise FinetuneError(f"Prediction file '{path}' has a header but no rows.")

  def _check_columns(self, path, header):
    training = self.source.header
    missing = [c for c in self._required() if c not in header]
    if missing:
      extra = [c for c in header if c not in training]
      found = [d for d in (";", "\t", "|", ",") if d != self.delimiter and d in header[0]]
      hint = (f" Its header looks {found[0]!r}-separated (csv_data.field_delim is "
              f"{self.delimiter!r})." if len(header) == 1 and found else "")
      raise FinetuneError(
          f"Prediction file '{path}' lacks the training data's feature columns "
          f"{', '.join(missing)}; it has extra columns {', '.join(extra) or '(none)'}. It needs "
          f"the columns the model was trained on: {', '.join(self._required())} (the label and "
          f"other columns are optional).{hint}")
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
    numeric = {c: int if t.is_integer else float for c, t in self._types().items()
               if t != tf.string}
    positions = {c: self.header.index(c) for c in numeric}
    rows = 0
    for number, line in _lines(path):
      where = f"Prediction file '{path}', row {rows} (line {number})"
      fault = scan.quoting_fault(line, self.delimiter)
      if fault:
        return f"{where}: {fault}. {scan.QUOTING_ADVICE}.", rows
      fields = next(csv.reader([line], delimiter=self.delimiter))
      if len(fields) != len(self.header):
        return (f"{where} has {len(fields)} fields where the header has {len(self.header)}: "
                "quote fields that contain the delimiter, or fill in the missing value."), rows
      for column, kind in numeric.items():
        value = fields[positions[column]]
        if not scan.parses_number(value, kind):
          wanted = "an int" if kind is int else "a finite float"
          return (f"{where}: column '{column}' is '{scan.clipped(value)}', not {wanted} as in "
                  "training."), rows
      rows += 1
    return None, rows

  def find_problem(self):
    for path in self.paths:
      problem, _ = self._scan(path)
      if problem:
        return problem
    return None

  def dataset(self):
    def records_of(path, compression):  # gzip-compressed and plain files may mix
      lines = tf.data.TextLineDataset(path, compression_type=compression).skip(1)
      return lines.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)

    return unlabelled.per_file(self.paths, records_of, self.compressions)

  def parse_batch(self, records):
    types = self._types()
    required = set(self._required())
    defaults = [tf.constant([] if c in required and t != tf.string else [""], dtype=t)
                for c, t in types.items()]
    values = dict(zip(self.header, tf.io.decode_csv(records, record_defaults=defaults,
                                                    field_delim=self.delimiter)))
    features = {c: values[c] for c in self.source.feature_columns}
    for name, columns in self.source._groups().items():  # pylint: disable=protected-access
      features[name] = tf.stack([tf.cast(values[c], tf.float32) for c in columns], axis=1)
    return features

  def keys(self):
    positions = [self.header.index(c) for c in self.keep_columns]
    for index, path in enumerate(self.paths):
      for row, (_, line) in enumerate(_lines(path)):
        fields = next(csv.reader([line], delimiter=self.delimiter))
        yield index, row, {c: fields[p] for c, p in zip(self.keep_columns, positions)}
