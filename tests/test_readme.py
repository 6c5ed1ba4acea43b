"""The README's Python API snippet runs as printed, from a notebook's working directory that
holds the digits module where `make digits` puts it."""

import os
import re
import subprocess
import sys

from tests import helpers

MARKER = "<!-- snippet: python-api (run by tests/test_readme.py) -->"


def readme_snippet():
  with open(os.path.join(helpers.REPO, "README.md")) as f:
    readme = f.read()
  assert MARKER in readme, "the README lost its Python API snippet"
  match = re.match(r"\s*```python\n(.*?)```", readme.split(MARKER, 1)[1], re.S)
  assert match, "the marker must be followed by a ```python block"
  return match.group(1)


def test_python_api_snippet_trains_on_arrays_and_exports(tmp_path, digits_module):
  (tmp_path / "build" / "modules").mkdir(parents=True)
  os.symlink(digits_module, tmp_path / "build" / "modules" / "digits_pretrained")
  snippet = readme_snippet()
  assert "data=data" in snippet and "ArrayData" in snippet  # objects, not gin, for the data
  env = dict(os.environ, PYTHONPATH=helpers.REPO, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  accuracy, hub_export = result.stdout.strip().splitlines()[-1].split(" ", 1)
  assert 0.0 <= float(accuracy) <= 1.0
  assert os.path.exists(os.path.join(tmp_path, hub_export, "tfhub_module.pb")), hub_export
  # The arrays fed the run: the config's CSV files are not in this directory.
  assert not (tmp_path / "examples").exists()
  assert (tmp_path / "runs" / "notebook" / "operative_config.gin").exists()
