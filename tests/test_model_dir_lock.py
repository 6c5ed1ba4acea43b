"""The model_dir lock is the kernel's (flock): held while a run lives, never stale after it."""

import json
import os
import socket
import subprocess
import sys

import pytest

from finetune.errors import FinetuneError
from finetune.process import lock
from tests import helpers

HOLDER = """
import sys, time
from finetune.process.lock import ModelDirLock
with ModelDirLock(sys.argv[1], ["holder"]):
  print("held", flush=True)
  time.sleep(600)
"""


def test_a_lock_file_naming_a_live_pid_but_held_by_nobody_is_taken(tmp_path):
  # A run killed by SIGKILL left its file; its pid now belongs to another process (here this
  # test's own pid, as a restarted container's run often gets its old pid).
  stale = {"pid": os.getpid(), "host": socket.gethostname(), "started": "yesterday"}
  (tmp_path / lock.LOCK_FILE).write_text(json.dumps(stale))
  assert lock.holder(str(tmp_path)) is None
  with lock.ModelDirLock(str(tmp_path), ["rerun"]) as held:
    assert held.held
    owner = json.loads((tmp_path / lock.LOCK_FILE).read_text())
    assert owner["command"] == "rerun" and owner["started"] != "yesterday"
    assert lock.holder(str(tmp_path))["command"] == "rerun"
  assert not (tmp_path / lock.LOCK_FILE).exists()
  assert lock.holder(str(tmp_path)) is None


def test_a_second_lock_is_refused_while_the_first_is_held_and_taken_after(tmp_path):
  first = lock.ModelDirLock(str(tmp_path), ["first"])
  with first:
    with pytest.raises(FinetuneError, match=f"in use by another training \\(pid {os.getpid()} "):
      lock.ModelDirLock(str(tmp_path), ["second"]).__enter__()
    assert json.loads((tmp_path / lock.LOCK_FILE).read_text())["command"] == "first"
  with lock.ModelDirLock(str(tmp_path), ["second"]):
    assert lock.holder(str(tmp_path))["command"] == "second"


def test_a_killed_holder_leaves_a_file_that_blocks_nothing(tmp_path):
  proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                          cwd=helpers.REPO,
                          stdout=subprocess.PIPE,
                          text=True)
  try:
    assert proc.stdout.readline().strip() == "held"
    assert lock.holder(str(tmp_path))["pid"] == proc.pid
    with pytest.raises(FinetuneError, match=f"pid {proc.pid} "):
      lock.ModelDirLock(str(tmp_path)).__enter__()
  finally:
    proc.kill()
    proc.wait()
  assert (tmp_path / lock.LOCK_FILE).exists()  # SIGKILL ran no cleanup
  assert lock.holder(str(tmp_path)) is None
  with lock.ModelDirLock(str(tmp_path), ["rerun"]):
    assert lock.holder(str(tmp_path))["command"] == "rerun"


def test_a_holder_probe_does_not_make_a_starting_run_fail(tmp_path, monkeypatch):
  """A sweep probing the lock holds a shared lock for a moment; a run starting then retries."""
  import fcntl  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / lock.LOCK_FILE)
  probe = os.open(path, os.O_RDWR | os.O_CREAT)
  fcntl.flock(probe, fcntl.LOCK_SH)
  attempts = []
  real_sleep = lock.time.sleep

  def release_after_first_try(secs):
    attempts.append(secs)
    os.close(probe)  # the probe ends
    real_sleep(0)

  monkeypatch.setattr(lock.time, "sleep", release_after_first_try)
  with lock.ModelDirLock(str(tmp_path), ["starting"]):
    assert attempts and lock.holder(str(tmp_path))["command"] == "starting"


def test_remote_model_dirs_fall_back_to_the_file_and_its_pid(tmp_path, monkeypatch):
  monkeypatch.setattr(lock, "local_path", lambda path: None)
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True).stdout.strip()
  (tmp_path / lock.LOCK_FILE).write_text(
      json.dumps({"pid": int(dead), "host": socket.gethostname()}))
  assert lock.holder(str(tmp_path)) is None
  with lock.ModelDirLock(str(tmp_path), ["remote"]):
    assert lock.holder(str(tmp_path))["command"] == "remote"
    with pytest.raises(FinetuneError, match="in use by another training"):
      lock.ModelDirLock(str(tmp_path)).__enter__()
  assert not (tmp_path / lock.LOCK_FILE).exists()


def test_without_flock_the_file_is_the_lock_and_a_refusal_says_how_to_clear_it(tmp_path,
                                                                               monkeypatch):
  """Lustre with noflock, NFSv3 without lockd: flock fails with ENOLCK or ENOSYS."""
  import errno  # pylint: disable=g-import-not-at-top

  def no_flock(fd, operation):
    raise OSError(errno.ENOLCK, "No locks available")

  monkeypatch.setattr(lock.fcntl, "flock", no_flock)
  with lock.ModelDirLock(str(tmp_path), ["first"]):
    assert lock.holder(str(tmp_path))["command"] == "first"
    with pytest.raises(FinetuneError, match=f"If that process no longer runs .*, delete "
                       f"{tmp_path / lock.LOCK_FILE}"):
      lock.ModelDirLock(str(tmp_path)).__enter__()
  assert not (tmp_path / lock.LOCK_FILE).exists()


def test_remote_lock_file_left_empty_for_a_minute_is_taken_over(tmp_path, monkeypatch):
  monkeypatch.setattr(lock, "local_path", lambda path: None)
  (tmp_path / lock.LOCK_FILE).write_text("")  # its writer died before writing its record
  with pytest.raises(FinetuneError, match="in use by another training"):
    lock.ModelDirLock(str(tmp_path)).__enter__()  # just created, perhaps being written
  old = os.path.getmtime(tmp_path / lock.LOCK_FILE) - 2 * lock.STALE_EMPTY_SECS
  os.utime(tmp_path / lock.LOCK_FILE, (old, old))
  with lock.ModelDirLock(str(tmp_path), ["rerun"]):
    assert json.loads((tmp_path / lock.LOCK_FILE).read_text())["command"] == "rerun"


def test_the_lock_file_is_only_removed_while_it_is_the_locked_one(tmp_path):
  """Should the locked file be replaced (it must not be, see rollback.py), exit leaves the
  replacement alone."""
  held = lock.ModelDirLock(str(tmp_path), ["first"]).__enter__()
  os.unlink(tmp_path / lock.LOCK_FILE)
  (tmp_path / lock.LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
  held.__exit__(None, None, None)
  assert json.loads((tmp_path / lock.LOCK_FILE).read_text())["host"] == "elsewhere"


def test_a_rollback_keeps_the_lock_file_it_holds_and_removes_its_new_dir_after(tmp_path):
  """A run that fails before its first step in a model_dir it created undoes everything,
  but the locked file stays until the lock goes: removed earlier, a second run could lock a
  new file while the first still held the old one."""
  from finetune.runtime import rollback  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "new"
  model_dir.mkdir()  # as the run's checks do
  held = lock.ModelDirLock(str(model_dir), ["failing"]).__enter__()
  snapshot = rollback.Snapshot(str(model_dir), existed=False)
  (model_dir / "model.ckpt-0.index").write_bytes(b"x")
  (model_dir / "events").mkdir()
  snapshot.restore()
  assert os.listdir(model_dir) == [lock.LOCK_FILE]
  assert lock.holder(str(model_dir))["command"] == "failing"
  with pytest.raises(FinetuneError, match="in use by another training"):
    lock.ModelDirLock(str(model_dir)).__enter__()
  held.__exit__(None, None, None)
  snapshot.remove_if_empty()
  assert not model_dir.exists()


def test_a_rollback_leaves_a_dir_another_run_has_written_to_since(tmp_path):
  from finetune.runtime import rollback  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "new"
  model_dir.mkdir()
  snapshot = rollback.Snapshot(str(model_dir), existed=False)
  snapshot.restore()
  (model_dir / "theirs.txt").write_text("another run's")
  snapshot.remove_if_empty()
  assert (model_dir / "theirs.txt").exists()


def test_a_rollback_keeps_what_another_run_wrote_before_this_one_took_the_lock(tmp_path):
  """`existed` is judged before the lock; whatever is there once the lock is held stays."""
  from finetune.runtime import rollback  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "new"
  model_dir.mkdir()
  (model_dir / "theirs.txt").write_text("written and released by another run")
  with lock.ModelDirLock(str(model_dir), ["failing"]):
    snapshot = rollback.Snapshot(str(model_dir), existed=False)
    (model_dir / "mine.txt").write_text("this run's")
    snapshot.restore()
  snapshot.remove_if_empty()
  assert sorted(os.listdir(model_dir)) == ["theirs.txt"]


def test_a_file_url_model_dir_created_by_a_failed_run_is_removed(tmp_path):
  from finetune.runtime import rollback  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "new"
  model_dir.mkdir()
  snapshot = rollback.Snapshot(f"file://{model_dir}", existed=False)
  snapshot.restore()
  snapshot.remove_if_empty()
  assert not model_dir.exists()


def test_a_signal_right_after_the_lock_is_taken_leaves_no_lock_behind(tmp_path, monkeypatch):
  class Signal(BaseException):
    pass

  real_same_file = lock._same_file  # pylint: disable=protected-access

  def then_a_signal(fd, path):
    real_same_file(fd, path)
    raise Signal()

  monkeypatch.setattr(lock, "_same_file", then_a_signal)
  with pytest.raises(Signal):
    lock.ModelDirLock(str(tmp_path), ["interrupted"]).__enter__()
  monkeypatch.setattr(lock, "_same_file", real_same_file)
  assert lock.holder(str(tmp_path)) is None
  with lock.ModelDirLock(str(tmp_path), ["next"]):
    assert lock.holder(str(tmp_path))["command"] == "next"
