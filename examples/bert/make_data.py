"""Writes the BERT example's data: a pretraining corpus and two tasks, all from Python docstrings.

Real English text under the Python Software Foundation License (see data/README.md). The
text example's labelled lines (examples/text/data/task_*.csv, docstring first lines of four
areas of the standard library) give the tasks; the corpus comes from *other* modules, so
that pretraining never sees a fine-tuning sentence:

  corpus.txt.gz           full docstrings of ~190 stdlib modules outside the text example's
                          AREAS, one sentence a line, a blank line between docstrings (the
                          format of BERT's create_pretraining_data.py): what MLM learns from.
  pairs_train.csv,        sentence1, sentence2, label: do two docstring lines come from the
  pairs_eval.csv          same area of the standard library (`same`/`different`)? Balanced;
                          train pairs only from task_train.csv lines, eval only from task_eval.
  tags_train.csv,         text, tags: one tag per whitespace-separated word of a task line,
  tags_eval.csv           CODE, NUM or WORD by the rule of `word_tag` (labels are rule-derived,
                          not annotated). Split as task_train/task_eval.

Deterministic: run with the Python that made the shipped files (3.11.7) to reproduce them byte
for byte; another version's docstrings differ a little.
"""

import csv
import gzip
import importlib
import inspect
import os
import random
import re
import warnings

from examples.text import make_data as text_data

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CORPUS = os.path.join(DATA_DIR, "corpus.txt.gz")
TAGS = ("CODE", "NUM", "WORD")
PAIR_LABELS = ("same", "different")
PAIRS = {"train": 4000, "eval": 600}
SEED = 0

# Modules whose docstrings make the corpus, grouped loosely by topic. None of them is in
# text_data.AREAS (checked in `corpus_documents`), which are the fine-tuning task's modules.
CORPUS_MODULES = """
builtins sys types abc collections collections.abc itertools functools operator copy copyreg
typing enum dataclasses contextlib contextvars weakref gc reprlib pprint graphlib
datetime calendar time zoneinfo sched
threading multiprocessing multiprocessing.pool multiprocessing.managers multiprocessing.connection
multiprocessing.shared_memory multiprocessing.queues multiprocessing.context queue subprocess
signal selectors concurrent.futures concurrent.futures.process asyncio asyncio.selector_events
logging logging.handlers logging.config warnings traceback faulthandler atexit tracemalloc
argparse optparse getopt cmd code codeop shlex readline rlcompleter getpass
json json.decoder json.encoder pickle pickletools marshal shelve dbm dbm.dumb sqlite3 csv
configparser tomllib plistlib netrc mailbox mimetypes
hashlib hmac secrets base64 binascii quopri struct array heapq bisect uuid
gzip bz2 lzma zlib chunk aifc sunau wave colorsys imghdr sndhdr xdrlib
xml.dom.minidom xml.dom.pulldom xml.dom.expatbuilder xml.etree.ElementTree xml.sax
xml.sax.handler xml.sax.saxutils xml.sax.xmlreader pyexpat
email.utils email.parser email.feedparser email.generator email.headerregistry email.policy
email.header email.charset email.mime.text
xmlrpc.client xmlrpc.server http.cookies http.cookiejar urllib.robotparser socketserver
wsgiref.handlers wsgiref.simple_server wsgiref.headers poplib nntplib telnetlib cgi mailcap
smtpd asynchat asyncore pipes
inspect ast dis symtable keyword token tokenize pyclbr tabnanny py_compile compileall
modulefinder runpy importlib importlib.abc importlib.util importlib.metadata
importlib.resources pkgutil zipimport site sysconfig venv zipapp platform errno ctypes mmap
linecache fileinput gettext stringprep
unittest unittest.mock doctest pdb bdb pydoc timeit trace cProfile profile pstats
distutils.core distutils.ccompiler distutils.dist distutils.cmd distutils.util
distutils.version distutils.text_file distutils.fancy_getopt lib2to3.pytree
tkinter tkinter.ttk turtle curses
""".split()

_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!e\.g\.)(?<!i\.e\.)(?<!etc\.)\s+(?=[A-Z\"'(\[`])")


def area_modules():
  return {name for names in text_data.AREAS.values() for name in names}


def documented_objects(module_name):
  """The module, its public functions and classes, and their own public methods/properties."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # deprecated modules (cgi, telnetlib, ...) warn on import
    module = importlib.import_module(module_name)
  yield module
  for name, obj in sorted(vars(module).items()):
    if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj) or
                                    inspect.isbuiltin(obj)):
      continue
    yield obj
    if inspect.isclass(obj):
      for key, member in sorted(vars(obj).items()):
        if not key.startswith("_") and (callable(member) or isinstance(member, property)):
          yield member


def defined_in(obj, module_names):
  """Whether obj was defined in one of module_names or its C/pure twin (_io for io, ...)."""
  home = getattr(obj, "__module__", None) or ""
  home = {"posix": "os", "_pydecimal": "decimal", "_pyio": "io"}.get(home, home.lstrip("_"))
  return home in module_names or home.split(".")[0] in module_names


def own_docstring(obj):
  """The object's own docstring, cleaned; inherited docstrings are not followed (unlike
  inspect.getdoc), so a class never repeats what an area module's base class says."""
  doc = getattr(obj, "__doc__", None)
  return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def sentences(docstring):
  """Sentences of a docstring with whitespace normalized; doctest paragraphs are dropped."""
  result = []
  for paragraph in re.split(r"\n\s*\n", docstring):
    lines = paragraph.split("\n")
    if any(line.lstrip().startswith(">>>") for line in lines):
      continue
    text = " ".join(paragraph.split())
    result += [s for s in _SENTENCE_END.split(text) if len(s.split()) >= 3]
  return result


def corpus_documents(task_lines):
  """[[sentence, ...] per docstring] of CORPUS_MODULES, disjoint from the task's text.

  A docstring is left out when an AREAS module defines or documents it, when its first line is
  a task line, and sentences equal to a task line are dropped.
  """
  excluded = area_modules()
  assert not excluded & set(CORPUS_MODULES), excluded & set(CORPUS_MODULES)
  area_docs = {own_docstring(o) for m in sorted(excluded) for o in documented_objects(m)}
  seen, documents = set(), []
  for module_name in CORPUS_MODULES:
    for obj in documented_objects(module_name):
      doc = own_docstring(obj)
      if (not doc or doc in seen or doc in area_docs or defined_in(obj, excluded) or
          doc.split("\n")[0].strip() in task_lines):
        continue
      seen.add(doc)
      kept = [s for s in sentences(doc) if s not in task_lines]
      if kept:
        documents.append(kept)
  return documents


def write_corpus(path, documents):
  """One sentence a line, a blank line after each document; gzip without a timestamp so the
  file is the same on every run."""
  text = "".join("\n".join(document) + "\n\n" for document in documents)
  with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
    f.write(text.encode("utf-8"))


def read_task(split):
  """[(text, area)] of the text example's task_{split}.csv."""
  with open(os.path.join(text_data.DATA_DIR, f"task_{split}.csv"), newline="") as f:
    return [(row["text"], row["area"]) for row in csv.DictReader(f)]


def sentence_pairs(rows, count, seed=SEED):
  """`count` distinct (sentence1, sentence2, label) rows, alternating `same` and `different`.

  sentence1 is drawn uniformly from all lines; sentence2 uniformly from the other lines of its
  area (`same`) or from the lines of the other areas (`different`).
  """
  rng = random.Random(seed)
  by_area = {}
  for text, area in rows:
    by_area.setdefault(area, []).append(text)
  pairs, seen = [], set()
  while len(pairs) < count:
    label = PAIR_LABELS[len(pairs) % 2]
    first, area = rng.choice(rows)
    if label == "same":
      second = rng.choice([t for t in by_area[area] if t != first])
    else:
      second = rng.choice([t for t, a in rows if a != area and t != first])
    if (first, second) not in seen and (second, first) not in seen:
      seen.add((first, second))
      pairs.append((first, second, label))
  return pairs


_NUMBER = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d[\d_]*(\.\d+)?([eE][-+]?\d+)?|0[xob][0-9a-f_]+)",
                     re.IGNORECASE)
_CODE_MARK = re.compile(r"[_()`\[\]{}=<>*]|\w\.\w|[a-z][A-Z]")
_OUTER = "\"'.,;:!?"
_ABBREVIATIONS = {"e.g", "i.e"}  # dotted, but English


def _core(word):
  """The word without sentence punctuation, quotes and unbalanced or wrapping parentheses:
  "(measured" -> "measured", "x)." -> "x", "(default)" -> "default", "f(x)," -> "f(x)"."""
  while True:
    core = word.strip(_OUTER)
    if core[:1] == "(" and (core[-1:] == ")" or core.count("(") > core.count(")")):
      core = core[1:]
    if core[-1:] == ")" and core.count(")") > core.count("("):
      core = core[:-1]
    if core == word:
      return core
    word = core


def word_tag(word, names):
  """The tag of one whitespace-separated word of a docstring line (the rule is the label).

  NUM:  the word, without surrounding punctuation, is a number (42, -1, 2.5e-3, 1,000, 0xff).
  CODE: it has a mark of code: an underscore, a parenthesis or bracket inside it, a backtick,
        `=`, `<`, `>`, `*`, a dot between two word characters (os.path), a lower-case letter
        followed by a capital (getLogger, SSLContext), but not e.g. or i.e.; or it is a public
        name of the line's module that is not all lower-case (SMTP, Decimal, IMAP4).
        All-lower-case names (path, time, copy) are English words too often to call code.
  WORD: anything else.
  """
  core = _core(word)
  if _NUMBER.fullmatch(core):
    return "NUM"
  if core in _ABBREVIATIONS:
    return "WORD"
  if _CODE_MARK.search(core) or (core in names and not core.islower()):
    return "CODE"
  return "WORD"


def line_names():
  """{task line: public names of the module (or modules) whose docstrings have that line}."""
  names = {}
  for module_name in sorted(area_modules()):
    public = {n for n in dir(importlib.import_module(module_name)) if not n.startswith("_")}
    for line in text_data.docstring_lines(module_name):
      names.setdefault(line, set()).update(public)
  return names


def tag_rows(rows, names):
  """[(text, tags)] with one tag per text.split() word."""
  return [(text, " ".join(word_tag(w, names[text]) for w in text.split())) for text, _ in rows]


def write_csv(path, header, rows):
  with open(path, "w", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def main():
  warnings.simplefilter("ignore", DeprecationWarning)  # typing.io and friends, when read
  tasks = {split: read_task(split) for split in ("train", "eval")}
  task_lines = {text for rows in tasks.values() for text, _ in rows}
  documents = corpus_documents(task_lines)
  write_corpus(CORPUS, documents)
  print(f"corpus: {len(documents)} docstrings, {sum(map(len, documents))} sentences")
  names = line_names()
  for split, rows in tasks.items():
    pairs = sentence_pairs(rows, PAIRS[split])
    write_csv(os.path.join(DATA_DIR, f"pairs_{split}.csv"), ["sentence1", "sentence2", "label"],
              pairs)
    write_csv(os.path.join(DATA_DIR, f"tags_{split}.csv"), ["text", "tags"], tag_rows(rows, names))
    print(f"{split}: {len(pairs)} pairs, {len(rows)} tagged lines")


if __name__ == "__main__":
  main()
