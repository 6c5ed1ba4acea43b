"""A full disk: one line that says so and where, the last checkpoint intact, and the same
command resumes once there is space."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from finetune.runtime import diagnosis
from tests import helpers

MESSAGE = ("Graph execution error:\n\nDetected at node 'save_2/SaveV2' ...\n"
           "/data/m/model.ckpt-20_temp/part-00000-of-00001.data-00000-of-00001.tempstate1; "
           "No space left on device\n\t [[{{node save_2/SaveV2}}]]")


def test_disk_full_is_explained_with_the_file_and_the_kept_checkpoint(tmp_path):
  error = tf.errors.ResourceExhaustedError(None, None, MESSAGE)
  explained = str(diagnosis.explain(error, str(tmp_path)))
  assert explained.startswith("The disk is full: writing '/data/m/model.ckpt-20_temp/")
  assert "The last complete checkpoint is kept (none yet)" in explained


def test_a_full_disk_met_by_python_code_is_explained_too(tmp_path):
  """metrics.json and the other small files are written by Python, whose error differs."""
  error = OSError(28, "No space left on device", "/data/m/metrics.json")
  explained = str(diagnosis.explain(error, str(tmp_path)))
  assert explained.startswith("The disk is full: writing '/data/m/metrics.json' failed")
  assert diagnosis.explain(OSError(13, "Permission denied", "/data/m/x"), str(tmp_path)) is None


@pytest.fixture
def small_disk(tmp_path):
  """A 3 MB tmpfs (needs the right to mount, as root in CI's container has)."""
  mount = tmp_path / "disk"
  mount.mkdir()
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                    capture_output=True, check=False).returncode:
    pytest.skip("cannot mount a tmpfs here (not root); the explanation is tested above")
  yield mount
  subprocess.run(["umount", str(mount)], check=False)


def test_run_on_a_full_disk_stops_in_one_line_and_resumes(small_disk, digits_module):
  model_dir = small_disk / "model"
  command = [
      sys.executable, "-m", "finetune.train", "--gin_file=digits/finetune.gin",
      # 3 MB fill up at about step 50 (in an export); 90 steps leave room past it, and the
      # resumed run 40 steps (4 evaluations and their exports) rather than 70.
      f"--gin_bindings=MODULE_HANDLE = '{digits_module}'", "--gin_bindings=TRAIN_STEPS = 90",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0",
      "--gin_bindings=run_config.save_checkpoints_steps = 10",
      "--gin_bindings=run_config.keep_checkpoint_max = 100",
      "--gin_bindings=evaluation.exports_to_keep = 100", f"--model_dir={model_dir}"
  ]
  full = subprocess.run(command, cwd=helpers.REPO, capture_output=True, text=True, timeout=600)
  assert full.returncode == 2, full.stderr[-2000:]
  last = full.stderr.strip().splitlines()[-1]
  assert last.startswith("finetune: error: The disk is full: writing '") and "Traceback" \
      not in full.stderr
  kept = tf.train.latest_checkpoint(str(model_dir))
  assert kept and f"The last complete checkpoint is kept ({kept})" in last
  tf.train.load_checkpoint(kept).get_tensor("global_step")  # whole and readable
  subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
  resumed = subprocess.run(command, cwd=helpers.REPO, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert helpers.checkpoint_step(str(model_dir)) == 90
  leftovers = [d for d, _, _ in os.walk(model_dir) if "temp" in os.path.basename(d)]
  assert not leftovers
