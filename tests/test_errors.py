"""Bad input: one clear error each, no traceback, nothing lost (the error table of docs/errors.md).

Each case (tests/error_cases.py) runs the command in-process (`finetune.train.main`) on the
digits task with a tiny module, changes one thing, and asserts the message a user would read
and that nothing under tmp_path changed.
"""

import os
import re
import shutil

import numpy as np
import pytest

from tests import builders
from tests import helpers
from tests.error_cases import CASES, base_args, run_command

# Cases whose mistake shows only after some training steps, which are kept.
AFTER_TRAINING_STEPS = ("loss_becomes_nan",)


def tree_bytes(root):
  """{path: bytes} of every file under `root`, and every directory (as None)."""
  tree = {}
  for directory, _, names in os.walk(root):
    tree[directory] = None
    for name in names:
      with open(os.path.join(directory, name), "rb") as f:
        tree[os.path.join(directory, name)] = f.read()
  return tree


@pytest.mark.parametrize("case, extra, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_error(tmp_path, capsys, request, digits_module, case, extra,
                                        message):
  bert = None
  if case.startswith("bert_"):
    bert = dict(request.getfixturevalue("bert_variants"),
                bert=request.getfixturevalue("bert_module"))
  extra = extra(tmp_path, digits_module, bert)
  before = tree_bytes(tmp_path)
  args = base_args(tmp_path, digits_module)
  if any(a.startswith("--gin_file=") for a in extra):  # the case brings its own config
    args = [a for a in args if not a.startswith("--gin_file=")]
  code, out = run_command(args + extra, capsys)
  assert code == 2, (case, out)
  lines = [l for l in out.err.splitlines() if l.strip()]
  assert lines and lines[-1].startswith("finetune: error: "), out.err  # the last line
  assert message in out.err, out.err
  assert "Traceback" not in out.err + out.out
  assert "In call to configurable" not in out.err
  if case not in AFTER_TRAINING_STEPS:  # failed before a training step: nothing changed
    assert tree_bytes(tmp_path) == before


def test_error_table_lists_exactly_these_cases():
  """docs/errors.md's table of mistakes maps one to one onto the cases tested here."""
  with open(os.path.join(helpers.REPO, "docs", "errors.md")) as f:
    readme = f.read()
  table = readme.split("## When something is wrong", 1)[1].split("\n\n", 3)[2]
  rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
  assert rows[0] == "case"
  assert sorted(rows[1:]) == sorted(c[0] for c in CASES)


def test_different_model_in_model_dir_is_refused_and_kept(tmp_path, capsys, digits_module):
  args = base_args(tmp_path, digits_module)
  code, out = run_command(args + ["--schedule=train"], capsys)  # checkpoints of one model
  assert code == 0, out.err
  model_dir = tmp_path / "model"
  before = {
      p: os.path.getmtime(model_dir / p) for p in os.listdir(model_dir) if p.startswith("model.ckpt")
  }
  code, out = run_command(
      args + [
          "--gin_bindings=experiment.head = @multi_class_head()",
          "--gin_bindings=multi_class_head.n_classes = 3",
          "--gin_bindings=multi_class_head.label_vocabulary = "
          "['even', 'odd', 'other']"
      ], capsys)
  assert code == 2
  assert "holds checkpoints of a different model (variable 'head/logits/kernel' has shape "\
         "[8, 1] there and [8, 3] here)" in out.err
  assert "training.warm_start_from" in out.err
  after = {
      p: os.path.getmtime(model_dir / p) for p in os.listdir(model_dir) if p.startswith("model.ckpt")
  }
  assert after == before


@pytest.mark.parametrize("steps_per_run", [1, 4])
def test_nan_loss_keeps_last_good_checkpoint(tmp_path, capsys, digits_module, steps_per_run):
  args = base_args(tmp_path,
                   digits_module) + [f"--gin_bindings=training.steps_per_run = {steps_per_run}"]
  assert run_command(args + ["--schedule=train"], capsys)[0] == 0  # a good checkpoint
  good = helpers.checkpoint_values(str(tmp_path / "model"))
  code, out = run_command(
      args + [
          "--gin_bindings=TRAIN_STEPS = 60", "--gin_bindings=LEARNING_RATE = 1e30",
          "--gin_bindings=optimization.clip_gradient_norm = None",
          "--gin_bindings=optimization.optimizer = "
          "@tf.train.GradientDescentOptimizer"
      ], capsys)
  assert code == 2 and "The loss became NaN or infinite at step" in out.err
  step = re.search(r"at step (\d+);", out.err)
  assert step and int(step.group(1)) > good["global_step"], out.err
  kept = helpers.checkpoint_values(str(tmp_path / "model"))
  assert all(np.isfinite(v).all() for v in kept.values() if np.asarray(v).dtype.kind == "f")
  assert kept["global_step"] >= good["global_step"]
  assert "last good checkpoint is kept (" in out.err


def test_nan_in_the_data_is_named_with_its_row(tmp_path, digits_module):
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  with open(os.path.join(builders.DIGITS_DATA, "finetune_train.csv")) as f:
    lines = f.read().splitlines()[:40]
  lines[6] = "nan," + lines[6].split(",", 1)[1]
  data = tmp_path / "nan.csv"
  data.write_text("\n".join(lines) + "\n")
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [
        f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 20",
        "learning_rate_schedule.warmup_steps = 0", f"csv_data.train_files = '{data}'"
    ], model_dir=str(tmp_path / "run"))
  assert re.match(r"The loss became NaN or infinite at step \d+ because the data holds a number "
                  rf"that is not finite: Row 7 of {data}: column 'pixel_0' is 'nan', not a "
                  "finite float", str(raised.value)), str(raised.value)


def test_verbose_shows_the_traceback(tmp_path, capsys, digits_module):
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  with pytest.raises(FinetuneError, match="Signature 'tokens'"):
    run_command(
        base_args(tmp_path, digits_module) +
        ["--gin_bindings=hub_module.signature = 'tokens'", "--verbose"], capsys)
  shutil.rmtree(tmp_path, ignore_errors=True)
