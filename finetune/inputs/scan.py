"""Finding the record behind a data error, after the graph reported it.

TensorFlow names neither the file nor the row when a batch fails (a label outside the
classes, a value that is not a number, a record missing a feature), and what its assert
prints is the converted batch, not the value in the file. These scans read the files in
Python, only after such a failure, and name the first bad record: file, row and value.
"""

import csv
import gzip
import io
import math
import zlib

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.formatting import printable

GZIP_MAGIC = b"\x1f\x8b"
MAX_RECORDS = 2_000_000  # per file: a scan that finds nothing ends, the graph's error stands


_OTHER_COMPRESSIONS = ((b"BZh", "bzip2", "bunzip2"), (b"\xfd7zXZ\x00", "xz", "unxz"),
                       (b"PK\x03\x04", "zip", "unzip"), (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"))


def unreadable_compression(path):
  """What is wrong with a file compressed in a way TensorFlow's readers do not read (they
  read plain files, gzip and ZLIB), or None."""
  with tf.io.gfile.GFile(path, "rb") as f:
    head = f.read(6)
  for magic, kind, tool in _OTHER_COMPRESSIONS:
    if head.startswith(magic):
      return (f"'{path}' is {kind}-compressed, which TensorFlow's readers do not read (plain "
              f"or gzip only): decompress it ({tool} '{path}') or recompress it with gzip")
  return None


def is_gzip(path):
  with tf.io.gfile.GFile(path, "rb") as f:
    return f.read(2) == GZIP_MAGIC


class _GFileStream(io.RawIOBase):
  """A tf.io.gfile file (local, gs://) as the binary stream io's readers take."""

  def __init__(self, path):
    super().__init__()
    self._file = tf.io.gfile.GFile(path, "rb")

  def readable(self):
    return True

  def readinto(self, buffer):
    data = self._file.read(len(buffer))
    buffer[:len(data)] = data
    return len(data)

  def close(self):
    self._file.close()
    super().close()


class _GzipStream(gzip.GzipFile):
  """A GzipFile that closes the stream it reads (GzipFile leaves `fileobj` open) and names
  its file when the data is cut short or damaged (gzip raises a bare EOFError)."""

  def read(self, size=-1):
    return self._named(super().read, size)

  def read1(self, size=-1):
    return self._named(super().read1, size)

  def _named(self, read, size):
    try:
      return read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
      raise FinetuneError(f"'{self.name}' is a gzip file that is cut short or damaged ({e}); "
                          "compress it again.") from None

  def close(self):
    raw = self.fileobj
    super().close()
    if raw is not None:
      raw.close()


def open_bytes(path):
  """A byte stream of a plain or gzip-compressed file (local or gs://), read in chunks."""
  stream = io.BufferedReader(_GFileStream(path))
  if is_gzip(path):
    stream = _GzipStream(filename=path, fileobj=stream)
  return stream


def open_text(path):
  """A text stream of a plain or gzip-compressed file; a UTF-8 BOM is dropped, and bytes
  that are not UTF-8 are replaced (the scans only describe what they find)."""
  return io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", errors="replace", newline="")


QUOTING_ADVICE = ("TensorFlow's CSV reader takes one line per record, a quoted field as "
                  "\"...\" with inner quotes doubled (\"\")")


def cr_line_endings(path):
  """Whether a text file ends its lines with CR alone (a classic Mac OS export): TensorFlow's
  line reader splits at LF only, so the whole file would be one line, the header."""
  with open_text(path) as f:
    head = f.read(1 << 16)
  return "\r" in head and "\n" not in head


def other_delimiter(columns, delimiter):
  """The delimiter a header of one column seems to be split by instead of `delimiter` (a
  semicolon-separated file from a European-locale spreadsheet), or None."""
  if len(columns) != 1:
    return None
  return next((d for d in (";", "\t", "|", ",") if d != delimiter and d in columns[0]), None)


def clipped(value, limit=60):
  """A value shown in a message: a 20 MB field must not become a 20 MB error line, and a NUL
  or a terminal escape in it is shown as an escape."""
  return printable(value) if len(value) <= limit else (f"{printable(value[:limit])}... "
                                                       f"({len(value):,} characters)")


def quoting_fault(line, delimiter):
  """What TensorFlow's decode_csv would refuse in one line of a CSV file, or None: a quoted
  field left open (a line break inside quotes: the record goes on past the line), a quote
  inside an unquoted field, or text after a closing quote."""
  i, n = 0, len(line)
  while i <= n:
    if i < n and line[i] == '"':
      i += 1
      while True:
        close = line.find('"', i)
        if close < 0:
          return "a quoted field is not closed on its line (a line break inside quotes?)"
        if line[close + 1:close + 2] == '"':
          i = close + 2
          continue
        i = close + 1
        break
      if i < n and line[i] != delimiter:
        return "text follows a closing quote (inner quotes must be doubled)"
    else:
      end = line.find(delimiter, i)
      end = n if end < 0 else end
      if '"' in line[i:end]:
        return "a quote inside an unquoted field (quote the field and double the quote)"
      i = end
    i += 1
  return None


def csv_quoting_problem(path, delimiter, max_lines=MAX_RECORDS):
  """The first line of a CSV file that TensorFlow's reader would refuse, described, or None."""
  with open_text(path) as f:
    for number, line in enumerate(f, start=1):
      if number > max_lines:
        return None
      fault = quoting_fault(line.rstrip("\r\n"), delimiter)
      if fault:
        return f"Line {number} of {path}: {fault}. {QUOTING_ADVICE}."
  return None


def csv_problem(path, header, delimiter, numeric_columns, label_column, label_problem):
  """The first bad row of a CSV file, described with its file and row, or None.
  `label_problem(label, {column: value})` says what is wrong with a row's label."""
  quoting = csv_quoting_problem(path, delimiter)
  if quoting:
    return quoting
  with open_text(path) as f:
    reader = csv.reader(f, delimiter=delimiter)
    try:
      return _first_bad_row(reader, path, header, numeric_columns, label_column, label_problem)
    except csv.Error as e:  # a field over csv's limit (131,072 characters)
      return f"Row {reader.line_num} of {path}: {e}; no field of a CSV row can be that long."


def _first_bad_row(reader, path, header, numeric_columns, label_column, label_problem):
  positions = {c: header.index(c) for c in list(numeric_columns) + [label_column]}
  next(reader, None)
  for count, row in enumerate(reader):
    if count >= MAX_RECORDS:
      return None
    where = f"Row {reader.line_num} of {path}"
    if not row:
      continue  # blank lines are skipped when reading, too
    if len(row) != len(header):
      return (f"{where} has {len(row)} fields where the header has {len(header)}: quote "
              "fields that contain the delimiter, or fill in the missing value.")
    for column, kind in numeric_columns.items():
      value = row[positions[column]]
      if not parses_number(value, kind):
        wanted = "an int" if kind is int else "a finite float"
        return (f"{where}: column '{column}' is '{clipped(value)}', not {wanted}. Fix the "
                "value, or declare the column's type in csv_data.column_types.")
    problem = label_problem(row[positions[label_column]], dict(zip(header, row)))
    if problem:
      return f"{where}: {problem}. Fix the label column, or the head's classes."
  return None


def parses_number(value, kind):
  """Whether TensorFlow reads `value` as a finite number of `kind` (it reads 'nan' and 'inf'
  too, and a NaN feature makes every loss after it NaN)."""
  value = value.strip()
  if not value.isascii() or "_" in value:  # Python reads 1_0 and other scripts' digits; TF not
    return False
  try:
    return math.isfinite(kind(value))
  except ValueError:
    return False


_HEADER = 12  # a record: its length (8 bytes), the length's CRC (4), the data, the data's CRC (4)


def tfrecord_cut(path, max_records=MAX_RECORDS):
  """Where an uncompressed TFRecord file ends inside a record, or None: TensorFlow's reader
  stops without a word at a record whose 12-byte header is cut, so training would use the
  records before it. Walks the record headers (one small read each), up to `max_records`."""
  size = tf.io.gfile.stat(path).length
  position = 0
  with tf.io.gfile.GFile(path, "rb") as f:
    for index in range(max_records):
      if position == size:
        return None
      header = f.read(_HEADER)
      if len(header) < _HEADER:
        return (f"record {index} (from byte {position}) is cut inside its header: "
                f"{len(header)} of its {_HEADER} header bytes are there")
      length = int.from_bytes(header[:8], "little")
      position += _HEADER + length + 4
      if position > size:
        return None  # cut inside the data: TensorFlow's reader reports that itself
      f.seek(position)
  return None


_LIST_OF = {tf.float32: "float_list", tf.int64: "int64_list", tf.string: "bytes_list"}


def example_problem(features, specs):
  """What in one tf.train.Example's features does not fit `specs` ({name: TensorSpec}):
  a missing feature, values of another kind, or another number of values than the shape."""
  for name, spec in specs.items():
    if name not in features:
      return f"has no feature '{name}' (it has: {', '.join(sorted(features)) or 'none'})"
    kind, wanted = features[name].WhichOneof("kind"), _LIST_OF.get(spec.dtype)
    if kind != wanted:
      return (f"holds feature '{name}' as {kind or 'an empty feature'} where the spec says "
              f"{wanted} ({spec.dtype.name})")
    count = len(getattr(features[name], kind).value)
    if spec.shape.is_fully_defined() and count != max(spec.shape.num_elements(), 1):
      return (f"holds {count} values for feature '{name}' where its shape "
              f"{spec.shape.as_list()} needs {spec.shape.num_elements()}")
  return None


def tfrecord_problem(path, compression_type, specs, label_key, label_problem):
  """The first bad record of a TFRecord file (corrupt, not an Example, a feature missing or
  of another kind or length than `specs` says, a bad label)."""
  read = 0  # records read whole
  try:
    for index, record in enumerate(
        tf.compat.v1.io.tf_record_iterator(path, tf.io.TFRecordOptions(compression_type))):
      read = index + 1
      if read > MAX_RECORDS:
        return None
      try:
        example = tf.train.Example.FromString(record)
      except Exception:  # pylint: disable=broad-except  (protobuf's DecodeError)
        return (f"Record {index} of {path} is not a tf.train.Example (a TFRecord file of "
                "another kind of record?).")
      features = example.features.feature
      problem = example_problem(features, specs)
      if problem:
        return f"Record {index} of {path} {problem}. Fix tfrecord_data.feature_spec or the data."
      record = {name: (feature_values(feature) or [""])[0] for name, feature in features.items()}
      for value in feature_values(features[label_key]):
        problem = label_problem(value, record)
        if problem:
          return f"Record {index} of {path}: {problem}."
  except tf.errors.DataLossError:
    if read == 0:
      kind = f"TFRecord file with {compression_type}" if compression_type else "TFRecord file"
      return f"{path} is not a {kind} (or is damaged from its start)."
    return f"{path} is damaged after record {read - 1}: it was truncated or corrupted."
  return None


def feature_values(feature):
  kind = feature.WhichOneof("kind")
  values = list(getattr(feature, kind).value) if kind else []
  return [v.decode("utf-8", "replace") if isinstance(v, bytes) else
          (int(v) if kind == "int64_list" else v) for v in values]
