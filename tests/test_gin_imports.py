"""A gin `import` line runs a Python module's code, so a config file could be code: imports
other than finetune's own are refused before gin reads anything, unless the user allows them."""

import pytest

from finetune import config
from finetune.errors import FinetuneError
from tests import helpers

PLANTED = "import pathlib\npathlib.Path('imported.txt').write_text('ran')\n"


def test_import_of_a_module_in_the_working_directory_is_refused_before_it_runs(tmp_path):
  (tmp_path / "planted.py").write_text(PLANTED)
  (tmp_path / "task.gin").write_text("include 'digits/finetune.gin'\nimport planted\n")
  run = helpers.python_module("finetune.train", "--gin_file=task.gin", "--model_dir=model",
                              cwd=tmp_path)
  assert run.returncode == 2, run.stderr
  assert run.stderr.strip().splitlines() == [
      "finetune: error: task.gin:2: `import planted` would import Python module 'planted', and "
      "importing runs its code. A config may import only finetune's own packages; if you trust "
      "the module, pass --allow_gin_imports (api.train(allow_gin_imports=True))."]
  assert not (tmp_path / "imported.txt").exists() and not (tmp_path / "model").exists()


@pytest.mark.parametrize("where", ["include", "binding", "from"])
def test_imports_are_found_in_includes_bindings_and_from_lines(tmp_path, monkeypatch, where):
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  (tmp_path / "planted.py").write_text(PLANTED)
  (tmp_path / "inner.gin").write_text("import planted\n")
  (tmp_path / "outer.gin").write_text("include 'digits/finetune.gin'\ninclude 'inner.gin'\n")
  files, bindings = {
      "include": (["outer.gin"], []),
      "binding": (["digits/finetune.gin"], ["import planted"]),
      "from": (["digits/finetune.gin"], ["from os import path"]),
  }[where]
  with pytest.raises(FinetuneError, match="would import Python module"):
    config.parse(files, bindings)
  assert not (tmp_path / "imported.txt").exists()


def test_allowed_import_runs_and_finetune_imports_need_no_allowance(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  (tmp_path / "planted.py").write_text(PLANTED)
  config.parse(["digits/finetune.gin"], ["import finetune.training.heads"])
  assert not (tmp_path / "imported.txt").exists()
  config.parse(["digits/finetune.gin"], ["import planted"], allow_imports=True)
  assert (tmp_path / "imported.txt").read_text() == "ran"


def test_a_sweep_refuses_imports_unless_allowed_and_passes_the_allowance_to_its_trials(
    tmp_path, monkeypatch):
  from finetune import api  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  (tmp_path / "planted.py").write_text(PLANTED)
  (tmp_path / "task.gin").write_text("include 'digits/finetune.gin'\nimport planted\n")
  with pytest.raises(FinetuneError, match="would import Python module 'planted'"):
    api.sweep(["task.gin"], str(tmp_path / "sweep"), {"TRAIN_STEPS": [1, 2]}, dry_run=True)
  lines = api.sweep(["task.gin"], str(tmp_path / "sweep"), {"TRAIN_STEPS": [1, 2]},
                    dry_run=True, allow_gin_imports=True)
  assert len(lines) == 2 and all(line[-1] == "--allow_gin_imports" for line in lines)
