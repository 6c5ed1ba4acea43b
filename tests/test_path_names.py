"""Names that become part of a path are one folder name: a trial's folder, whatever values its
grid holds (handles with '..', absolute paths, references), and a module's export name."""

import pytest

from finetune import checks
from finetune.errors import FinetuneError
from finetune.trials import grid


def test_trial_names_are_folder_names_whatever_the_grid_holds():
  hostile = ["../../escape", "/etc", "a/../..", "..", "gs://b/../../m", "@../x()", "%..", "\0"]
  trials = grid.plan([("MODULE_HANDLE", hostile), ("optimizer.name", ["../..", "/"])])
  names = [name for name, _ in trials]
  assert len(set(names)) == len(names) == 16
  for name in names:
    assert checks.folder_name(name, "trial") == name and not name.startswith(".")


@pytest.mark.parametrize("name", ["../x", "/abs", "..", ".", "a/b", "a\\b", "", " ", 3])
def test_export_name_must_be_one_folder_name(name):
  with pytest.raises(FinetuneError, match="must be one folder name"):
    checks.folder_name(name, "hub_module.export_name")
