"""A normal (non-editable) install works away from the source tree: the configs ship inside
the package and the console scripts run a shipped config by its short name."""

import os
import subprocess
import sys
import sysconfig

from tests import builders
from tests import helpers


def _fresh_venv_with_wheel(tmp_path):
  """A new virtual environment holding the built wheel of finetune. Its dependencies come
  from this interpreter's site-packages through a .pth line (a path only: the editable
  install's finder there is not loaded), so the test needs no network and no TensorFlow
  download, and finetune itself can only come from the wheel."""
  wheels = tmp_path / "wheels"
  subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  helpers.REPO, "-w", str(wheels)], check=True, capture_output=True)
  venv = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
  python = str(venv / "bin" / "python")
  site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        check=True, capture_output=True, text=True).stdout.strip()
  with open(os.path.join(site, "dependencies.pth"), "w") as f:
    f.write(sysconfig.get_paths()["purelib"] + "\n")
  (wheel,) = wheels.iterdir()
  subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
                  "--no-index", str(wheel)], check=True, capture_output=True)
  return venv, site


def test_installed_package_runs_a_shipped_config_by_its_short_name(tmp_path, digits_module):
  venv, site = _fresh_venv_with_wheel(tmp_path)
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  where = subprocess.run([str(venv / "bin" / "python"), "-c", "import finetune; print(finetune.__file__)"],
                         cwd=elsewhere, capture_output=True, text=True, check=True).stdout
  assert where.startswith(site), where  # the wheel's copy, not the source tree
  data = builders.DIGITS_DATA
  result = subprocess.run([
      str(venv / "bin" / "finetune-train"), "--gin_file=digits/finetune.gin",
      f"--model_dir={tmp_path / 'model'}", f"--gin_bindings=MODULE_HANDLE = '{digits_module}'",
      f"--gin_bindings=csv_data.train_files = '{data}/finetune_train.csv'",
      f"--gin_bindings=csv_data.eval_files = '{data}/finetune_eval.csv'",
      "--gin_bindings=TRAIN_STEPS = 3", "--gin_bindings=learning_rate_schedule.warmup_steps = 0"
  ], cwd=elsewhere, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Final metrics:" in result.stdout
  assert os.path.exists(tmp_path / "model" / "operative_config.gin")
  missing = subprocess.run([str(venv / "bin" / "finetune-train"), "--gin_file=nope.gin"],
                           cwd=elsewhere, capture_output=True, text=True, timeout=600)
  assert missing.returncode == 2
  assert "Shipped configs: base/defaults.gin" in missing.stderr and "digits/finetune.gin" in (
      missing.stderr)
