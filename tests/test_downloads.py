"""Module downloads never hang and never wait in silence: a server that accepts and never
answers times out with one line; SIGTERM and Ctrl-C end a download at once; a long download
logs its progress; a lock left by a killed download is taken over, and a wait says for whom."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time

import gin
import pytest
from tensorflow_hub import compressed_module_resolver

from finetune.errors import FinetuneError
from finetune.modules import download_lock
from finetune.modules.hub_module import HubModule
from tests import builders
from tests import helpers



@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
  path = tmp_path / "hub_cache"
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(path))
  return path


@pytest.fixture
def tarball(tmp_path, digits_module):
  return builders.make_tarball(digits_module, str(tmp_path / "digits.tar.gz"))


@pytest.fixture
def finetune_log():
  """finetune's log lines, whatever handlers an earlier test left on the logger."""
  lines = []

  class Collect(logging.Handler):

    def emit(self, record):
      lines.append(record.getMessage())

  log = logging.getLogger("finetune")
  handler, level = Collect(), log.level
  log.addHandler(handler)
  log.setLevel(logging.INFO)
  yield lines
  log.removeHandler(handler)
  log.setLevel(level)


def train_command(tmp_path, handle, *bindings):
  return [
      sys.executable, "-m", "finetune.train", "--gin_file=digits/finetune.gin",
      f"--model_dir={tmp_path / 'model'}", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
      *[f"--gin_bindings={b}" for b in bindings]
  ]


def start(args, tmp_path, name, env=None):
  """Popen with stdout and stderr in files, so the test can wait for a line."""
  out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
  with open(out, "w") as o, open(err, "w") as e:
    proc = subprocess.Popen(args, cwd=helpers.REPO, stdout=o, stderr=e, env=env)
  return proc, out, err


def assert_one_line_end(err_file, starts):
  err = err_file.read_text()
  assert "Traceback" not in err, err
  assert err.strip().splitlines()[-1].startswith(starts), err


def test_server_that_never_answers_times_out_with_one_line(tmp_path, cache_dir):
  env = dict(os.environ, FINETUNE_DOWNLOAD_TIMEOUT_SECS="1")
  with helpers.silent_server() as url:
    handle = f"{url}/digits.tar.gz"
    # The gin binding for training, the environment for inspect (which takes no bindings).
    train, _, train_err = start(train_command(tmp_path, handle, "download.timeout_secs = 1"),
                                tmp_path, "train")
    inspect, _, inspect_err = start([sys.executable, "-m", "finetune.inspect", handle],
                                    tmp_path, "inspect", env=env)
    assert train.wait(timeout=120) == 2 and inspect.wait(timeout=120) == 2
  for err in (train_err, inspect_err):
    assert_one_line_end(err, f"finetune: error: Module '{handle}': the server sent nothing for 1 s")
  assert os.listdir(cache_dir) == []  # no lock, no partial download


@pytest.mark.parametrize("command, signum, code", [("train", signal.SIGTERM, 143),
                                                     ("inspect", signal.SIGINT, 130)],
                         ids=["train-SIGTERM", "inspect-SIGINT"])
def test_signal_during_a_download_ends_it_at_once(tmp_path, cache_dir, command, signum, code):
  with helpers.silent_server() as url:
    handle = f"{url}/digits.tar.gz"
    args = (train_command(tmp_path, handle) if command == "train" else
            [sys.executable, "-m", "finetune.inspect", handle])
    proc, out, err = start(args, tmp_path, command)
    logs = out if command == "train" else err  # inspect keeps stdout for its description
    assert helpers.wait_for(lambda: f"Downloading {handle}" in logs.read_text(), timeout=120)
    proc.send_signal(signum)
    # Well inside the default 60 s timeout: the signal, not the timeout, ended it.
    assert proc.wait(timeout=30) == code
  assert_one_line_end(err, f"finetune: Stopped by {signum.name} while downloading {handle}.")
  assert os.listdir(cache_dir) == []


def test_long_download_logs_bytes_and_rate(tmp_path, cache_dir, tarball, finetune_log):
  gin.parse_config(["download.progress_every_secs = 0.05"])
  with helpers.serve_slowly(tarball, chunk_bytes=512, chunk_secs=0.02) as (url, _):
    module = HubModule(handle=f"{url}/digits.tar.gz")
    assert "default" in module.spec.get_signature_names()
  progress = [line for line in finetune_log if " so far, " in line]
  assert progress and all(line.endswith(" MB/s") for line in progress), finetune_log
  assert any(line.startswith(f"Downloaded {url}/digits.tar.gz: ") for line in finetune_log)


def write_lock(cache_dir, lock, pid, uid="0123abcd"):
  """hub's download lock as a download by `pid` on this host writes it."""
  os.makedirs(cache_dir, exist_ok=True)
  with open(lock, "w") as f:
    f.write(f"{socket.gethostname()}.{pid}.{uid}")


def module_dir(handle):
  return compressed_module_resolver._module_dir(handle)  # pylint: disable=protected-access


def test_lock_of_a_killed_download_is_taken_over(tmp_path, cache_dir, tarball, finetune_log):
  hold = threading.Event()  # the answer stalls after its first chunk: a download under way
  with helpers.serve_slowly(tarball, hold=hold) as (url, _):
    handle = f"{url}/digits.tar.gz"
    lock = module_dir(handle) + ".lock"
    killed, _, _ = start([sys.executable, "-m", "finetune.inspect", handle], tmp_path, "killed")
    assert helpers.wait_for(lambda: os.path.exists(lock), timeout=120)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert os.path.exists(lock)  # what SIGKILL leaves behind
    hold.set()
    module = HubModule(handle=handle)
    assert "default" in module.spec.get_signature_names()
  assert (f"Took over the download lock of {handle} ({lock}): its owner, pid {killed.pid} on "
          f"{socket.gethostname()}, is gone.") in finetune_log
  assert not os.path.exists(lock)
  assert [e for e in os.listdir(cache_dir) if e.endswith(".tmp")] == []


def test_wait_for_a_live_download_says_for_whom(cache_dir, tarball, finetune_log):
  with helpers.serve(tarball) as (url, _):
    handle = f"{url}/digits.tar.gz"
    lock = module_dir(handle) + ".lock"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
      write_lock(cache_dir, lock, owner.pid)
      resolved = []
      waiter = threading.Thread(target=lambda: resolved.append(HubModule(handle=handle).spec))
      waiter.start()
      waiting = f"Waiting for pid {owner.pid} on {socket.gethostname()}, which is downloading"
      assert helpers.wait_for(lambda: any(l.startswith(waiting) for l in finetune_log), 60)
      assert not resolved  # it waits while the owner lives
    finally:
      owner.kill()
      owner.wait()
    waiter.join(timeout=60)
  assert resolved and "default" in resolved[0].get_signature_names()
  assert any("Took over the download lock" in line for line in finetune_log)


def _dead_owner_lock(cache_dir, handle):
  """A lock naming a pid that has exited, as a SIGKILLed download leaves it."""
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True).stdout.strip()
  lock = module_dir(handle) + ".lock"
  write_lock(cache_dir, lock, dead, uid="deadbeef")
  return lock, (socket.gethostname(), int(dead), "deadbeef")


def test_of_two_waiters_on_a_dead_owner_only_the_first_takes_the_lock(cache_dir, finetune_log):
  """The second waiter read the dead owner too, but by the time it acts the first one's
  download holds a new lock: that lock must survive."""
  handle = "http://127.0.0.1:9/digits.tar.gz"
  lock, dead = _dead_owner_lock(cache_dir, handle)
  tmp_dir = f"{module_dir(handle)}.{dead[2]}.tmp"
  assert download_lock._take_over(lock, tmp_dir, handle, dead, "is gone")  # the first waiter
  with open(lock, "w") as f:  # the first waiter's download starts
    f.write(f"{socket.gethostname()}.{os.getpid()}.cafe0001")
  assert not download_lock._take_over(lock, tmp_dir, handle, dead, "is gone")  # the second
  assert download_lock.read_owner(lock) == (socket.gethostname(), os.getpid(), "cafe0001")
  assert sum("Took over the download lock" in line for line in finetune_log) == 1


def test_a_lock_whose_pid_was_reused_after_it_was_written_is_taken_over(cache_dir, finetune_log):
  handle = "http://127.0.0.1:9/digits.tar.gz"
  lock = module_dir(handle) + ".lock"
  reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
  try:
    write_lock(cache_dir, lock, reused.pid)
    an_hour_ago = time.time() - 3600  # written long before that process started
    os.utime(lock, (an_hour_ago, an_hour_ago))
    download_lock.wait_for_owner(handle, module_dir(handle), lock_timeout_secs=600)
  finally:
    reused.kill()
    reused.wait()
  assert not os.path.exists(lock)
  assert any(f"pid {reused.pid} on {socket.gethostname()}, is gone (its pid now belongs to a "
             "process started after the lock was written)" in line for line in finetune_log)


def _cached_modules(cache_dir):
  """Folders in the cache (hub keeps one per handle, plus lock and descriptor files)."""
  return [p for p in cache_dir.iterdir() if p.is_dir()] if cache_dir.exists() else []


@pytest.mark.parametrize("fault", ["nested", "damaged"])
def test_a_download_without_a_module_at_its_top_never_enters_the_cache(tmp_path, cache_dir,
                                                                       digits_module, fault):
  served = tmp_path / "served.tar.gz"
  with tarfile.open(served, "w:gz") as tar:
    if fault == "nested":  # the module's folder archived, instead of its files
      tar.add(digits_module, arcname="digits")
    else:
      broken = tmp_path / "broken.pb"
      broken.write_bytes(b"\x0a\xff\xff\xff not a protocol buffer")
      tar.add(broken, arcname="saved_model.pb")
  expected = ("a module sits in its folder 'digits/'" if fault == "nested" else
              "its saved_model.pb cannot be read")
  with helpers.serve(str(served)) as (url, _):
    handle = f"{url}/digits.tar.gz"
    with pytest.raises(FinetuneError, match=f"Refused the download of '{handle}': .*{expected}"
                       ".* Nothing was kept in the cache"):
      _ = HubModule(handle=handle).spec
    assert _cached_modules(cache_dir) == []
    builders.make_tarball(digits_module, str(served))  # the publisher fixes the archive
    assert "default" in HubModule(handle=handle).spec.get_signature_names()
  assert len(_cached_modules(cache_dir)) == 1


def test_a_broken_cached_copy_is_named_with_how_to_clear_it(tmp_path, cache_dir, tarball):
  with helpers.serve(tarball) as (url, _):
    handle = f"{url}/digits.tar.gz"
    _ = HubModule(handle=handle).spec
  (cached,) = _cached_modules(cache_dir)
  shutil.rmtree(cached / "variables")
  with pytest.raises(FinetuneError, match=f"The module is a cached download \\({cached}\\); "
                     "delete that folder to download it again"):
    _ = HubModule(handle=handle).spec
