"""Files and places beside the main ones: a config that is not UTF-8, a sweep_dir that is a file,
a binary sweep file, and a directory where finetune writes a file (predictions, the lock).
Each is one line naming the path; nothing is lost."""

import pytest

from finetune import api
from finetune.errors import FinetuneError
from finetune.trials import grid
from tests import helpers


def test_a_config_that_is_not_utf8_names_its_file_and_line(tmp_path):
  latin = tmp_path / "latin.gin"
  latin.write_bytes(b"include 'digits/finetune.gin'\n# caf\xe9\nTRAIN_STEPS = 5\n")
  with pytest.raises(FinetuneError, match=f"Gin file '{latin}' is not UTF-8 text: byte 0xe9 on "
                     "line 2"):
    api.train([str(latin)], [], model_dir=str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_a_binary_sweep_file_and_a_sweep_dir_that_is_a_file_are_refused(tmp_path):
  binary = tmp_path / "grid.json"
  binary.write_bytes(b"\xef\xff\x00\x01")
  with pytest.raises(FinetuneError, match="Sweep file .* is not UTF-8 text: byte 0xef on line 1"):
    grid.read_sweep_file(str(binary))
  taken = tmp_path / "taken"
  taken.write_text("a file")
  for call in (lambda: api.sweep(["digits/finetune.gin"], str(taken), {"TRAIN_STEPS": [1, 2]}),
               lambda: api.collect(str(taken))):
    with pytest.raises(FinetuneError, match="sweep_dir '.*taken' is a file, not a directory"):
      call()
  assert taken.read_text() == "a file"


def test_a_directory_where_finetune_writes_a_file_is_named(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 2",
                                      "learning_rate_schedule.warmup_steps = 0"],
            model_dir=str(model_dir), schedule="train")
  (model_dir / "predictions.jsonl").mkdir()
  with pytest.raises(FinetuneError, match="predictions.jsonl' is a directory where finetune "
                     "writes a file"):
    api.train(model_dir=str(model_dir), schedule="predict")
  (model_dir / "predictions.jsonl").rmdir()
  (model_dir / ".finetune.lock").mkdir()
  before = helpers.checkpoint_step(model_dir)
  with pytest.raises(FinetuneError, match=".finetune.lock is a directory where finetune keeps "
                     "the model_dir's lock file"):
    api.train(model_dir=str(model_dir), bindings=["TRAIN_STEPS = 4"])
  assert helpers.checkpoint_step(model_dir) == before


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path, digits_module):
  """A latest checkpoint cut short (a disk that filled): evaluate refuses it naming the one
  that reads; training resumes from that one (not from scratch) and keeps the damaged files."""
  model_dir = tmp_path / "model"
  bindings = [f"MODULE_HANDLE = '{digits_module}'", "learning_rate_schedule.warmup_steps = 0"]
  api.train(["digits/finetune.gin"], bindings + ["TRAIN_STEPS = 4"], model_dir=str(model_dir),
            schedule="train")
  data = model_dir / "model.ckpt-4.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
  with pytest.raises(FinetuneError, match=f"The latest checkpoint {model_dir}/model.ckpt-4 is "
                     f"damaged .* resumes from {model_dir}/model.ckpt-0, the newest one that "
                     "reads"):
    api.train(model_dir=str(model_dir), schedule="evaluate")
  before = helpers.checkpoint_values(str(model_dir / "model.ckpt-0"))
  api.train(model_dir=str(model_dir), bindings=["TRAIN_STEPS = 5"], schedule="train")
  assert helpers.checkpoint_step(model_dir) == 5
  assert (model_dir / "model.ckpt-0.index").exists()  # resumed from it: kept, not rewritten
  assert (model_dir / "damaged-model.ckpt-4.data-00000-of-00001").exists()
  assert helpers.checkpoint_values(str(model_dir / "model.ckpt-0")).keys() == before.keys()


def test_a_gs_path_without_network_is_one_line():
  """TensorFlow's own message when GCS cannot be reached (seen on a machine without network)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from finetune.runtime import diagnosis  # pylint: disable=g-import-not-at-top
  error = tf.errors.FailedPreconditionError(
      None, None, "Error executing an HTTP request: libcurl code 6 meaning 'Couldn't resolve "
      "host name', error details: Could not resolve host: www.googleapis.com")
  explained = diagnosis.explain(error)
  assert str(explained).startswith("A remote path (gs://) could not be reached: Error executing "
                                   "an HTTP request: libcurl code 6")
  assert "credentials" in str(explained)
