"""What a word-vector text file and its words must be for a module to find the words.

The module's tokenizer reads sentences as UTF-8 and splits them at whitespace
(sentence_tokens.py), so a word is found only if it is UTF-8 without a tab or line break in
it. The readers keep a word's bytes as they are (table_io.text); these checks refuse, with
one line, what would otherwise become words no sentence ever reaches: a file in UTF-16 or
with a byte-order mark (whose first word would carry it), a word holding a tab (a
tab-separated file read as space-separated), a word in another encoding (Latin-1's 'caf\\xe9').
In word2vec's binary format a word cut inside its last UTF-8 character is kept: word2vec.c
cut long words at a byte count, and published vectors (GoogleNews) hold a few such words,
harmless and never looked up; in a text file the same bytes are a Latin-1 'caf\xe9'.
"""

import re

from finetune.embeddings import table_io
from finetune.errors import FinetuneError

# Longest first: UTF-32's little-endian mark starts with UTF-16's.
BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32LE"), (b"\x00\x00\xfe\xff", "UTF-32BE"),
                    (b"\xff\xfe", "UTF-16LE"), (b"\xfe\xff", "UTF-16BE"),
                    (b"\xef\xbb\xbf", "UTF-8-SIG"))
START_BYTES = 4096


def check_encoding(path, flag):
  """Refuses a text file (`flag` names where it was given) that is not plain UTF-8 text:
  a byte-order mark, or NUL bytes in its first 4 KB (UTF-16 without a mark, or binary)."""
  with table_io.open_file(path) as f:
    start = f.read(START_BYTES)
  for mark, encoding in BYTE_ORDER_MARKS:
    if start.startswith(mark):
      if encoding == "UTF-8-SIG":
        raise FinetuneError(f"{flag}: {path} starts with a UTF-8 byte-order mark, which would "
                            "become part of its first word; save it without one (sed -i "
                            f"'1s/^\\xEF\\xBB\\xBF//' {path}).")
      raise FinetuneError(f"{flag}: {path} is {encoding} text (it starts with that byte-order "
                          "mark); word vectors are read as UTF-8. Convert it: iconv -f "
                          f"{encoding[:6]} -t UTF-8 {path} > {path}.utf8")
  if b"\x00" in start:
    raise FinetuneError(f"{flag}: {path} holds NUL bytes near its start, so it is not UTF-8 "
                        "text: UTF-16 without a byte-order mark (convert it with iconv -f "
                        "UTF-16LE -t UTF-8), or a binary file (word2vec's binary format: name "
                        "it .bin or pass --input_format=word2vec_binary).")


def check_word(word, place, keep_cut_words=False):
  """Refuses a word a module could never find, naming `place`, its place in the file.
  `keep_cut_words`: word2vec binary (see above)."""
  problem = word_problem(word, keep_cut_words)
  if problem:
    raise FinetuneError(f"The word {_shown(word)} at {place}: {problem}.")


def _shown(word):
  try:
    return repr(word.encode("utf-8").decode("utf-8"))
  except UnicodeEncodeError:  # bytes kept by surrogateescape: show them as bytes
    return repr(word.encode("utf-8", "surrogateescape"))


_WHITESPACE = re.compile(r"[\t\r\x0b\x0c]")


def word_problem(word, keep_cut_words=False):
  """Why a module could never find `word` (kept as the file's bytes), or None."""
  if _WHITESPACE.search(word):
    return ("it holds a tab or another whitespace character, and sentences are split at "
            "whitespace, so it would never be looked up. Is the file tab-separated? Vectors "
            "are `word v1 ... vd` separated by spaces; a word list has one word per line")
  if word.isascii():
    return None
  try:
    raw = word.encode("utf-8", "surrogateescape")
    raw.decode("utf-8")
  except UnicodeEncodeError:
    return "it holds a lone surrogate code point, which is not text"
  except UnicodeDecodeError as e:
    if keep_cut_words and e.reason == "unexpected end of data" and e.end == len(raw):
      return None  # cut inside its last character, as word2vec.c cut long words
    return (f"it is not UTF-8 (byte {raw[e.start]:#04x} at {e.start}), and "
            "sentences are read as UTF-8, so it would never be looked up. Is the file in "
            "another encoding (Latin-1, cp1252)? Convert it: iconv -f LATIN1 -t UTF-8 FILE > NEW_FILE")
  return None


def ragged_hint(line):
  """What a ragged line's message adds when the line holds tabs (a tab-separated file)."""
  if "\t" not in line:
    return ""
  return (" The line holds tabs: is the file tab-separated? Vectors are `word v1 ... vd` "
          "separated by spaces (tr '\\t' ' ' converts one).")
