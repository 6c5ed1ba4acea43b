"""Writes the text example's data from the docstrings of Python's standard library.

Real English text with natural labels, under the Python Software Foundation License (see
data/README.md). Two disjoint sets of stdlib modules give two kinds of data:

  task_train.csv, task_eval.csv  the first line of each public docstring of modules in four
                                 areas (math, text, files, network), labelled by area: the
                                 fine-tuning task. 25% of lines (by hash) are for evaluation.
  corpus.txt                     docstring lines of many *other* stdlib modules, unlabelled:
                                 what the embedding module is pretrained on.

Run with the Python that made the shipped files (3.11) to reproduce them exactly; another
version's docstrings differ a little.
"""

import csv
import hashlib
import importlib
import inspect
import os
import re

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

AREAS = {
    "math": ["math", "cmath", "statistics", "decimal", "fractions", "random", "numbers"],
    "text": ["string", "re", "textwrap", "difflib", "unicodedata", "codecs", "html", "locale"],
    "files": [
        "os", "posixpath", "shutil", "pathlib", "glob", "tempfile", "io", "filecmp", "fnmatch",
        "stat", "zipfile", "tarfile"
    ],
    "network": [
        "socket", "ssl", "http.client", "http.server", "urllib.request", "urllib.parse", "smtplib",
        "ftplib", "email.message", "ipaddress", "imaplib"
    ],
}
CORPUS_MODULES = [
    "collections",
    "itertools",
    "functools",
    "operator",
    "typing",
    "enum",
    "dataclasses",
    "datetime",
    "calendar",
    "time",
    "threading",
    "multiprocessing",
    "subprocess",
    "queue",
    "asyncio",
    "logging",
    "argparse",
    "json",
    "pickle",
    "copy",
    "pprint",
    "inspect",
    "ast",
    "dis",
    "unittest",
    "doctest",
    "sqlite3",
    "csv",
    "configparser",
    "hashlib",
    "hmac",
    "secrets",
    "base64",
    "binascii",
    "struct",
    "array",
    "heapq",
    "bisect",
    "weakref",
    "gc",
    "contextlib",
    "abc",
    "traceback",
    "warnings",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "gzip",
    "bz2",
    "lzma",
    "zlib",
    "mailbox",
    "mimetypes",
    "uuid",
    "platform",
    "sysconfig",
    "importlib",
    "pkgutil",
    "zipimport",
    "selectors",
    "signal",
    "mmap",
    "sched",
    "tokenize",
    "textwrap",
    "shlex",
    "cmd",
    "code",
    "timeit",
    "trace",
    "tracemalloc",
    "wave",
    "colorsys",
]


def docstring_lines(module_name):
  """First lines of the docstrings of a module's public functions, classes and methods."""
  module = importlib.import_module(module_name)
  seen = []
  for name, obj in sorted(vars(module).items()):
    if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj) or
                                    inspect.isbuiltin(obj)):
      continue
    members = [obj] + ([
        v for k, v in sorted(vars(obj).items()) if not k.startswith("_") and callable(v)
    ] if inspect.isclass(obj) else [])
    for member in members:
      doc = inspect.getdoc(member) or ""
      line = doc.strip().split("\n")[0].strip()
      if len(line.split()) >= 3 and "(" not in line[:1] and not re.match(r"^\w+\(", line):
        seen.append(line)
  return list(dict.fromkeys(seen))


def main():
  rows = []
  for area, modules in AREAS.items():
    for module in modules:
      rows += [(line, area) for line in docstring_lines(module)]
  rows = list(dict.fromkeys(rows))
  held_out = lambda text: int(hashlib.sha1(text.encode()).hexdigest(), 16) % 4 == 0
  for name, keep in (("task_train.csv", lambda r: not held_out(r[0])), ("task_eval.csv",
                                                                        lambda r: held_out(r[0]))):
    with open(os.path.join(DATA_DIR, name), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["text", "area"])
      writer.writerows(r for r in rows if keep(r))
  task_lines = {text for text, _ in rows}
  corpus = []
  for module in CORPUS_MODULES:
    corpus += [line for line in docstring_lines(module) if line not in task_lines]
  with open(os.path.join(DATA_DIR, "corpus.txt"), "w") as f:
    f.write("\n".join(dict.fromkeys(corpus)) + "\n")


if __name__ == "__main__":
  main()
