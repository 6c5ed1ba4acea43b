"""Interruption loses nothing: SIGKILL at random steps, SIGTERM pre-emption, a second training
in the same model_dir, and module archives that try to escape their folder."""

import io
import os
import re
import signal
import subprocess
import sys
import tarfile

import pytest

from finetune.errors import FinetuneError
from finetune.modules.hub_module import HubModule
from tests import helpers



def command(model_dir, handle, *bindings):
  return [
      sys.executable, "-m", "finetune.train", "--gin_file=digits/finetune.gin",
      f"--model_dir={model_dir}", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0",
      *[f"--gin_bindings={b}" for b in bindings]
  ]


def assert_exports_whole(model_dir):
  for kind in ("hub", "best_hub", "serving"):
    root = model_dir / "export" / kind
    if not root.exists():
      continue
    for entry in os.listdir(root):
      assert not entry.startswith("temp-"), f"half-written export left: {root / entry}"
      path = root / entry
      if kind == "serving":
        assert (path / "saved_model.pb").exists() and (path / "variables").is_dir(), path
      else:
        (module,) = [p for p in path.iterdir() if p.is_dir()]
        assert (module / "tfhub_module.pb").exists(), module
        assert (module / "variables" / "variables.index").exists(), module
        HubModule(handle=str(module)).spec.get_signature_names()  # it loads


def test_sigkill_at_random_steps_then_rerun_finishes_exactly(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  args = command(model_dir, digits_module, "TRAIN_STEPS = 150",
                 "run_config.save_checkpoints_steps = 25", "evaluation.exports_to_keep = 50",
                 "evaluation.best_export_metric = 'accuracy'")
  killed_after = []
  for _ in range(3):
    last = helpers.checkpoint_step(model_dir)
    proc = subprocess.Popen(args, cwd=helpers.REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # Killed as soon as a new checkpoint is there: during the evaluation and the exports it
    # triggers, or the next steps; each kill leaves a later checkpoint than the one before.
    assert helpers.wait_for(lambda: helpers.checkpoint_step(model_dir) > last)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after.append(helpers.checkpoint_step(model_dir))
  assert len(set(killed_after)) == 3 and max(killed_after) < 150, killed_after
  half_saved = model_dir / f"model.ckpt-{max(killed_after) + 1}_temp_0123abcd"
  half_saved.mkdir()  # what a kill during a checkpoint save leaves (tf.train.Saver's shards)
  (half_saved / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"partial")
  result = subprocess.run(args, cwd=helpers.REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert not half_saved.exists()
  values = helpers.checkpoint_values(str(model_dir))  # the checkpoint restores
  assert values["global_step"] == 150
  assert_exports_whole(model_dir)
  assert "Final metrics:" in result.stdout


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "ctrl-c"])
def test_signal_saves_a_checkpoint_at_the_current_step(tmp_path, digits_module, signum, code):
  model_dir = tmp_path / "model"
  out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
  with open(out_file, "w") as out, open(err_file, "w") as err:
    proc = subprocess.Popen(command(model_dir, digits_module, "TRAIN_STEPS = 1000000",
                                    "run_config.save_checkpoints_steps = 1000000",
                                    "training.progress_every_secs = 0.1"),
                            cwd=helpers.REPO, stdout=out, stderr=err)
    # Training is under way once a progress line past step 0 is printed.
    assert helpers.wait_for(lambda: re.search(r"step [1-9]\d*/", out_file.read_text()))
    proc.send_signal(signum)
    proc.wait(timeout=120)
  err = err_file.read_text()
  assert proc.returncode == code, err
  step = helpers.checkpoint_step(model_dir)
  assert step > 0  # saved on the way out, not by the (never reached) periodic save
  assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
  assert err.strip().splitlines()[-1].startswith(f"finetune: Stopped by {signum.name} at step "
                                                 f"{step}; the checkpoint is saved"), err
  assert "Run the same command" in err
  assert not (model_dir / ".finetune.lock").exists()


def test_second_training_in_the_same_model_dir_is_refused(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  first = subprocess.Popen(command(model_dir, digits_module, "TRAIN_STEPS = 1000000",
                                   "run_config.save_checkpoints_steps = 1000000"),
                           cwd=helpers.REPO,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
  try:
    assert helpers.wait_for(lambda: (model_dir / "model.ckpt-0.index").exists())
    second = subprocess.run(command(model_dir, digits_module, "TRAIN_STEPS = 5"),
                            cwd=helpers.REPO,
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert second.returncode == 2
    assert f"is in use by another training (pid {first.pid}" in second.stderr
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()


def crafted_tarball(path, member):
  with tarfile.open(path, "w:gz") as tar:
    good = b"fine"
    info = tarfile.TarInfo("tfhub_module.pb")
    info.size = len(good)
    tar.addfile(info, io.BytesIO(good))
    if member.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
      tar.addfile(member)
    else:
      member.size = 4
      tar.addfile(member, io.BytesIO(b"evil"))
  return path


def member(name, kind=tarfile.REGTYPE, link=""):
  info = tarfile.TarInfo(name)
  info.type = kind
  info.linkname = link
  return info


@pytest.mark.parametrize("bad, message", [
    (member("../escaped.txt"), "climbs out of the module folder"),
    (member("/tmp/absolute_evil.txt"), "has an absolute path"),
    (member("variables", tarfile.SYMTYPE, "/etc"), "is a link (to '/etc')"),
    (member("hard", tarfile.LNKTYPE, "tfhub_module.pb"), "is a link"),
],
                         ids=["dotdot", "absolute", "symlink", "hardlink"])
def test_archive_members_that_escape_are_refused(tmp_path, monkeypatch, bad, message):
  cache = tmp_path / "cache"
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
  tarball = crafted_tarball(str(tmp_path / "evil.tar.gz"), bad)
  with helpers.serve(tarball) as (url, requests):
    with pytest.raises(FinetuneError, match="Refused module .*" + re.escape(message)):
      _ = HubModule(handle=f"{url}/evil.tar.gz").spec
    assert requests
  assert not (tmp_path / "escaped.txt").exists()
  assert not os.path.exists("/tmp/absolute_evil.txt")
  leftovers = [e for e in os.listdir(cache) if not e.endswith(".descriptor.txt")]
  assert leftovers == [], leftovers  # no module folder, no partial download, no lock
