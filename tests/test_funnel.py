"""Every failure leaves a command as one line, and an API call as a FinetuneError: an internal
path broken on purpose, in each entry point, is one line naming it as unexpected (exit 1),
with the traceback only under --verbose; a parameter misspelled where gin cannot check names
(an optimizer's **kwargs) is refused at parse time like any other misspelling."""

import subprocess
import sys

import pytest

from finetune import FinetuneError
from finetune import api
from finetune.errors import UnexpectedError
from tests import helpers

BROKEN = """
import sys
from absl import app
import {target_module} as target
def broken(*args, **kwargs):
  raise RuntimeError("deliberately broken")
setattr(target, "{attribute}", broken)
from finetune import {command} as command
app.run(lambda argv: sys.exit(command.main(argv)), argv=sys.argv)
"""


def entry_points(tmp_path, handle):
  """(command, the internal function broken in it, its arguments)."""
  return [
      ("train", "finetune.experiment", "run",
       ["--gin_file=digits/finetune.gin", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
        f"--model_dir={tmp_path / 'model'}"]),
      ("inspect", "finetune.modules.inspection", "describe", [handle]),
      ("sweep", "finetune.trials.runner", "Sweep",
       ["--gin_file=digits/finetune.gin", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
        f"--sweep_dir={tmp_path / 'sweep'}", "--grid=LEARNING_RATE=[0.01]"]),
      ("export_embedding", "finetune.embeddings.publish", "publish",
       [f"--embedding_file={tmp_path / 'vectors.txt'}", f"--export_path={tmp_path / 'out'}"]),
  ]


def run_broken(command, target_module, attribute, args, *more):
  code = BROKEN.format(target_module=target_module, attribute=attribute, command=command)
  return subprocess.run([sys.executable, "-c", code, *args, *more], cwd=helpers.REPO,
                        capture_output=True, text=True, timeout=300)


def test_a_broken_internal_path_is_one_line_in_every_command(tmp_path, digits_module):
  for command, target_module, attribute, args in entry_points(tmp_path, digits_module):
    result = run_broken(command, target_module, attribute, args)
    assert result.returncode == 1, (command, result.stderr)
    assert "Traceback" not in result.stderr, (command, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("finetune: error: unexpected RuntimeError: deliberately broken"), (
        command, last)
    assert "--verbose" in last


def test_verbose_shows_the_traceback_of_the_unexpected_error(tmp_path, digits_module):
  command, target_module, attribute, args = entry_points(tmp_path, digits_module)[1]
  result = run_broken(command, target_module, attribute, args, "--verbose")
  assert result.returncode != 0 and "Traceback" in result.stderr
  assert "RuntimeError: deliberately broken" in result.stderr


def test_the_api_raises_finetune_errors_only_with_the_cause_attached(monkeypatch, digits_module):
  from finetune.modules import inspection  # pylint: disable=g-import-not-at-top

  def broken(handle):
    raise RuntimeError("deliberately broken")

  monkeypatch.setattr(inspection, "describe", broken)
  with pytest.raises(UnexpectedError) as raised:
    api.inspect(digits_module)
  assert isinstance(raised.value, FinetuneError)
  assert isinstance(raised.value.__cause__, RuntimeError)


@pytest.mark.parametrize("binding, message", [
    ("csv_data.batch_sise = 64", "Did you mean: csv_data.batch_size"),
    ("csv_data.shuffle_bufer_size = 10", "Did you mean: csv_data.shuffle_buffer_size"),
])
def test_a_misspelled_keyword_option_is_refused_before_anything_runs(tmp_path, digits_module,
                                                                     binding, message):
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", binding],
              model_dir=str(tmp_path / "run"))
  # The data sources name their pipeline options, so gin itself refuses the misspelling,
  # with the binding's line.
  misspelled = binding.split('.')[1].split(' ')[0]
  assert f"'csv_data' doesn't have a parameter named '{misspelled}'" in str(raised.value)
  assert message in str(raised.value)
  assert not (tmp_path / "run").exists()


def test_a_misspelled_optimizer_option_is_refused(tmp_path, digits_module):
  with pytest.raises(FinetuneError, match="Did you mean:? AdamWOptimizer.weight_decay"):
    api.train(["digits/finetune.gin"], [
        f"MODULE_HANDLE = '{digits_module}'", "optimization.optimizer = @AdamWOptimizer",
        "AdamWOptimizer.weight_decy = 0.1"
    ], model_dir=str(tmp_path / "run"))
