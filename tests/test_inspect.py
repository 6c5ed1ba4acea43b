"""`python -m finetune.inspect`: what a module offers, and a gin snippet that works."""

import json
import subprocess
import sys

import gin
import pytest

from finetune.modules import inspection
from finetune.modules.hub_module import HubModule
from tests import builders
from tests import helpers


def test_json_report_lists_variants_signatures_and_counts(digits_module):
  result = subprocess.run(
      [sys.executable, "-m", "finetune.inspect", digits_module, "--format=json"],
      cwd=helpers.REPO,
      capture_output=True,
      text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  report = json.loads(result.stdout)
  variants = {tuple(v["tags"]): v for v in report["variants"]}
  assert set(variants) == {(), ("train",)}
  serving, train = variants[()], variants[("train",)]
  assert set(serving["signatures"]) == {"default", "classifier"}
  default = serving["signatures"]["default"]
  assert default["inputs"]["pixels"] == {"dtype": "float32", "shape": [None, 64], "sparse": False}
  assert default["outputs"]["default"]["shape"] == [None, 8]
  assert train["update_ops"] > 0 and serving["update_ops"] == 0  # batch norm trains only
  assert train["regularization_losses"] == 2  # L2 on two kernels
  # hidden, batch norm (gamma, beta, moving mean and variance), features, 10-way classifier
  assert serving["parameters"] == 64 * 16 + 16 + 4 * 16 + 16 * 8 + 8 + 8 * 10 + 10


def test_text_report_and_snippet_configure_a_valid_module(digits_module):
  description = inspection.describe(digits_module)
  text = inspection.format_text(description)
  assert "signature 'classifier'" in text and "update ops (batch norm)" in text
  gin.parse_config(description["gin"])
  module = HubModule()
  assert module.handle == digits_module and module.train_tags == {"train"}
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module.validate({"pixels": tf.TensorSpec([64], tf.float32)})


def test_bad_handle_is_one_line(tmp_path):
  result = subprocess.run([sys.executable, "-m", "finetune.inspect",
                           str(tmp_path / "none")],
                          cwd=helpers.REPO,
                          capture_output=True,
                          text=True,
                          timeout=120)
  assert result.returncode == 2
  assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_image_module_reports_expected_size_and_channels(image_example):
  description = inspection.describe(image_example["image_classification"])
  serving = next(v for v in description["variants"] if not v["tags"])
  assert serving["signatures"]["default"]["image"] == {"height": 32, "width": 32, "channels": 3}
  assert "expects images of 32x32 with 3 channels" in inspection.format_text(description)
  assert "image_feature_vector" in serving["signatures"]


@pytest.mark.parametrize("damage, message", [
    ("missing", "has variables in its graph but no variables/variables.index"),
    ("truncated", "the data file is truncated"),
])
def test_damaged_variables_are_one_line(tmp_path, digits_module, damage, message):
  """Through the API, as the command calls it: a FinetuneError (the command's exit code 2 and
  one line, run below for one damage)."""
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune import formatting  # pylint: disable=g-import-not-at-top
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  from finetune.errors import UnexpectedError  # pylint: disable=g-import-not-at-top
  handle = builders.damaged_copy(digits_module, tmp_path / "module", damage)
  with pytest.raises(FinetuneError) as raised:
    api.inspect(handle)
  assert not isinstance(raised.value, UnexpectedError)
  line = formatting.one_line(raised.value)
  assert message in line and "\n" not in line and "Traceback" not in line


def test_damaged_variables_through_the_command_are_one_line(tmp_path, digits_module):
  handle = builders.damaged_copy(digits_module, tmp_path / "module", "missing")
  result = subprocess.run([sys.executable, "-m", "finetune.inspect", handle],
                          cwd=helpers.REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("finetune: error: ")
  assert "has variables in its graph but no variables/variables.index" in result.stderr
  assert "Traceback" not in result.stderr
