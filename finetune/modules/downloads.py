"""Downloading a module archive over http(s) without hanging and without silence.

A server that accepts the connection and never answers (or stops answering halfway) would
block a socket read forever; every connect and every read here has a timeout, and when it
fires the download ends with one FinetuneError naming the URL and the setting. A long
download logs a line every few seconds: bytes so far and the rate.

    download.timeout_secs = 60          # connect, and each read (not the whole download)
    download.progress_every_secs = 5

The defaults can also come from the environment (FINETUNE_DOWNLOAD_TIMEOUT_SECS), which
reaches `python -m finetune.inspect` too; a gin binding wins over it.
"""

import contextlib
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Optional

import gin

from finetune.errors import FinetuneError

log = logging.getLogger("finetune")

TIMEOUT_ENV = "FINETUNE_DOWNLOAD_TIMEOUT_SECS"
DEFAULT_TIMEOUT_SECS = 60.0


def _env_timeout():
  value = os.environ.get(TIMEOUT_ENV)
  if not value:
    return DEFAULT_TIMEOUT_SECS
  try:
    seconds = float(value)
  except ValueError:
    seconds = -1
  if seconds <= 0:
    raise FinetuneError(f"{TIMEOUT_ENV} must be a number of seconds > 0, got '{value}'.")
  return seconds


@gin.configurable("download")
def settings(timeout_secs: Optional[float] = None, progress_every_secs: float = 5.0):
  """(timeout in seconds, progress cadence in seconds) for module downloads.

  Args:
    timeout_secs: a download that receives nothing for this long fails, naming the URL
      (default: the FINETUNE_DOWNLOAD_TIMEOUT_SECS environment variable, else 60).
    progress_every_secs: cadence of the download's progress line (bytes and rate).
  """
  timeout = _env_timeout() if timeout_secs is None else timeout_secs
  if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
    raise FinetuneError(f"download.timeout_secs must be a number of seconds > 0, got {timeout!r}.")
  return float(timeout), float(progress_every_secs)


def _megabytes(n):
  return f"{n / 1e6:.1f} MB"


class ProgressReader:
  """A file object that passes reads through and logs bytes and rate every `every_secs`.
  It keeps the answer's content type and first bytes, to say what came instead of an archive."""

  FIRST_BYTES = 64

  def __init__(self, fileobj, url, every_secs):
    self._fileobj = fileobj
    self._url = url
    self._every_secs = every_secs
    self._start = self._last_log = time.time()
    self.bytes_read = 0
    self.content_type = getattr(fileobj, "headers", {}).get("Content-Type")
    self.first_bytes = b""

  def read(self, size=-1):
    chunk = self._fileobj.read(size)
    if len(self.first_bytes) < self.FIRST_BYTES:
      self.first_bytes += chunk[:self.FIRST_BYTES - len(self.first_bytes)]
    self.bytes_read += len(chunk)
    now = time.time()
    if now - self._last_log >= self._every_secs:
      self._last_log = now
      log.info("Downloading %s: %s so far, %s/s", self._url, _megabytes(self.bytes_read),
               _megabytes(self.bytes_read / max(now - self._start, 1e-9)))
    return chunk

  def finished(self):
    seconds = time.time() - self._start
    log.info("Downloaded %s: %s in %.1f s", self._url, _megabytes(self.bytes_read), seconds)


def _is_timeout(error):
  if isinstance(error, (TimeoutError, socket.timeout)):
    return True
  return isinstance(error, urllib.error.URLError) and isinstance(
      error.reason, (TimeoutError, socket.timeout))


@contextlib.contextmanager
def opened(url, handle, context=None):
  """Yields a ProgressReader on the response to `url`; a connect or read that waits longer
  than the timeout raises FinetuneError naming `handle` and the setting."""
  timeout, every_secs = settings()
  log.info("Downloading %s (no answer for %g s ends it: download.timeout_secs)", handle, timeout)
  try:
    with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout,
                                context=context) as response:
      reader = ProgressReader(response, handle, every_secs)
      yield reader
      reader.finished()
  except Exception as e:  # pylint: disable=broad-except
    if not _is_timeout(e):
      raise
    raise FinetuneError(
        f"Module '{handle}': the server sent nothing for {timeout:g} s (download.timeout_secs "
        f"or {TIMEOUT_ENV}). Check the URL and the network, or raise the timeout.") from None
