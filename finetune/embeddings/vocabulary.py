"""The words of a table go to the vocabulary file as they are read, a batch at a time, and are
checked there: each word on its own, and no word twice.

Holding GloVe's 400,000 words as Python strings (and a dict of them for the duplicate check)
cost more memory than its table; the duplicate check keeps a 64-bit hash per word instead, and
compares the words themselves only where two hashes are equal.
"""

import numpy as np

from finetune.embeddings import text_checks
from finetune.errors import FinetuneError


class VocabularyWriter:
  """Writes words one per line to `path`; `place_of_row(row)` names a row in errors.

  Use as a context manager; call check_duplicates() once every word is added.
  """

  def __init__(self, path, place_of_row, keep_cut_words=False):
    self.path = path
    self._place = place_of_row
    self._keep_cut_words = keep_cut_words
    # pylint: disable-next=consider-using-with  (closed by __exit__)
    self._file = open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
    self._hashes = []  # an int64 array per batch
    self.count = 0
    self.capitalized = 0  # words a lower-casing module never looks up

  def __enter__(self):
    return self

  def __exit__(self, *unused):
    self._file.close()

  def add(self, words):
    for row, word in enumerate(words, self.count):
      # Empty or ASCII-blank words are a malformed file; a word of Unicode spaces (GloVe 840B
      # has a few) can never be looked up but harms nothing, so it stays.
      if not word or (word.isascii() and word.isspace()) or "\n" in word:
        raise FinetuneError(f"The word at {self._place(row)} is {word!r}: a word must be "
                            "non-empty and on one line.")
      text_checks.check_word(word, self._place(row), self._keep_cut_words)
    if words:
      self._file.write("\n".join(words) + "\n")
    self._hashes.append(np.fromiter(map(hash, words), np.int64, len(words)))
    self.capitalized += sum(1 for w in words if w != w.lower())
    self.count += len(words)

  def check_duplicates(self):
    """Raises FinetuneError naming the first word that appears a second time, and where."""
    self._file.flush()
    hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.int64)
    self._hashes = [hashes]
    ordered = np.sort(hashes)
    if not (ordered[1:] == ordered[:-1]).any():  # the usual case: no two hashes alike
      return
    del ordered
    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order[1:]] == hashes[order[:-1]])
    candidates = np.union1d(order[same], order[same + 1])  # rows whose hash is not alone
    words = self._words_at(set(candidates.tolist()))
    first_rows = {}
    for row in candidates.tolist():  # in row order: the first repeat is reported
      first = first_rows.setdefault(words[row], row)
      if first != row:
        raise FinetuneError(f"'{words[row]}' appears twice: at {self._place(first)} and at "
                            f"{self._place(row)}. Every word needs one vector; drop one.")

  def _words_at(self, rows):
    """{row: word} for `rows`, read back from the file (a hash collision is rare)."""
    found = {}
    with open(self.path, "rb") as f:
      for row, line in enumerate(f):
        if row in rows:
          found[row] = line[:-1].decode("utf-8", "surrogateescape")
    return found
