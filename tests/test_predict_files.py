"""Batch prediction on unlabelled CSV files (issue 27): rows joined back by file, row and kept
columns, the head's outputs in the user's terms, equal to what the serving SavedModel answers
for the same rows; CSV and JSON Lines output; which checkpoint; and the mistakes, each named
before anything is written."""

import csv
import gzip
import json
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from finetune import api
from finetune.errors import FinetuneError
from tests import helpers
from tests.error_cases import run_command

EVAL_CSV = os.path.join(helpers.REPO, "examples", "digits", "data", "finetune_eval.csv")
PIXELS = [f"pixel_{i}" for i in range(64)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_module):
  """The digits parity task, trained 20 steps with a checkpoint and evaluation at 10 and 20."""
  model_dir = str(tmp_path_factory.mktemp("predict") / "model")
  api.train(["digits/finetune.gin"], [
      f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 20",
      "learning_rate_schedule.warmup_steps = 0", "run_config.save_checkpoints_steps = 10",
      "LEARNING_RATE = 0.05"
  ], model_dir=model_dir)
  return model_dir


def eval_rows(count, start=0):
  with open(EVAL_CSV) as f:
    return list(csv.DictReader(f))[start:start + count]


def write_unlabelled(path, rows, blank_after=None, opener=open):
  """Rows without the label, columns in another order, an id and an extra column."""
  columns = ["id", "note"] + PIXELS[::-1]
  with opener(path, "wt", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    for i, row in enumerate(rows):
      writer.writerow([f"{os.path.basename(str(path))}-{i}", "x"] + [row[c] for c in PIXELS[::-1]])
      if i == blank_after:
        f.write("\n   \n")
  return str(path)


def serving_probabilities(model_dir, rows):
  serving = helpers.latest_subdir(os.path.join(model_dir, "export", "serving"))
  pixels = np.array([[float(r[c]) for c in PIXELS] for r in rows], np.float32)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.loader.load(session, ["serve"],
                                                     serving).signature_def["predict"]
    return session.run(signature.outputs["probabilities"].name,
                       {signature.inputs["pixels"].name: pixels})


def read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f]


def test_rows_join_back_by_file_row_and_id_and_equal_the_serving_model(trained, tmp_path):
  first = write_unlabelled(tmp_path / "a.csv", eval_rows(25), blank_after=9)
  second = write_unlabelled(tmp_path / "b.csv.gz", eval_rows(6, start=25), opener=gzip.open)
  output = str(tmp_path / "out.jsonl")
  result = api.predict(trained, [str(tmp_path / "*.csv"), second,
                                 str(tmp_path / "." / "b.csv.gz")], output=output,
                       checkpoint="latest", bindings=[
                           "prediction.keep_columns = ['id']", "prediction.top_k = 2",
                           "prediction.all_probabilities = True"])
  assert result.predictions == output
  rows = read_jsonl(output)
  assert len(rows) == 31  # b.csv.gz named twice (by its pattern and by name): read once
  assert [(r["file"], r["row"]) for r in rows] == ([(first, i) for i in range(25)] +
                                                   [(second, i) for i in range(6)])
  assert [r["id"] for r in rows] == ([f"a.csv-{i}" for i in range(25)] +
                                     [f"b.csv.gz-{i}" for i in range(6)])
  assert list(rows[0]) == ["file", "row", "id", "class", "probability", "top_k", "probabilities"]
  assert len(rows) == 31
  served = serving_probabilities(trained, eval_rows(31))
  predicted = np.array([[r["probabilities"]["even"], r["probabilities"]["odd"]] for r in rows])
  np.testing.assert_allclose(predicted, served, rtol=1e-5, atol=1e-6)
  for row, answer in zip(rows, served):
    assert row["class"] == ["even", "odd"][int(np.argmax(answer))]
    assert row["probability"] == pytest.approx(answer.max(), abs=1e-6)
    top = row["top_k"]
    assert [t["class"] for t in top] == sorted(["even", "odd"], key=lambda c: -row["probabilities"][c])
    assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-5)
    assert top[0]["probability"] >= top[1]["probability"]
  assert not os.path.exists(output + ".tmp")


def test_csv_output_holds_the_same_predictions_and_the_command_says_which_step(
    trained, tmp_path, capsys):
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(12))
  jsonl = str(tmp_path / "p.jsonl")
  api.predict(trained, data, output=jsonl, checkpoint="latest",
              bindings=["prediction.keep_columns = ['id']", "prediction.top_k = 2"])
  code, out = run_command([f"--model_dir={trained}", "--schedule=predict",
                           f"--predict_files={data}", f"--predict_output={tmp_path / 'p.csv'}",
                           "--checkpoint=latest", "--gin_bindings=prediction.keep_columns = ['id']",
                           "--gin_bindings=prediction.top_k = 2"], capsys)
  assert code == 0, out.err
  assert "checkpoint of step 20 (the latest)" in out.out + out.err
  assert f"Predictions: {tmp_path / 'p.csv'}" in out.out
  with open(tmp_path / "p.csv") as f:
    table = list(csv.DictReader(f))
  assert list(table[0]) == ["file", "row", "id", "class", "probability", "top_k_1_class",
                            "top_k_1_probability", "top_k_2_class", "top_k_2_probability"]
  assert len(table) == len(read_jsonl(jsonl)) == 12
  for line, row in zip(read_jsonl(jsonl), table):
    assert (row["file"], int(row["row"]), row["id"], row["class"]) == (
        line["file"], line["row"], line["id"], line["class"])
    assert float(row["top_k_2_probability"]) == line["top_k"][1]["probability"]


def test_a_threshold_decides_the_binary_class(trained, tmp_path):
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(40))
  for threshold in (0.2, 0.8):
    output = str(tmp_path / f"t{threshold}.jsonl")
    api.predict(trained, data, output=output, checkpoint="latest", bindings=[
        f"prediction.threshold = {threshold}", "prediction.all_probabilities = True"])
    for row in read_jsonl(output):
      odd = row["probabilities"]["odd"]
      assert row["class"] == ("odd" if odd >= threshold else "even")
      assert row["probability"] == row["probabilities"][row["class"]]


def test_the_label_column_may_be_there_and_the_eval_set_path_stays(trained, tmp_path):
  output = str(tmp_path / "labelled.jsonl")
  api.predict(trained, EVAL_CSV, output=output, checkpoint="latest")
  rows = read_jsonl(output)
  assert len(rows) == 859 and rows[-1]["row"] == 858
  api.predict(pathlib.Path(trained), pathlib.Path(EVAL_CSV), output=tmp_path / "as_path.jsonl",
              checkpoint="latest")  # os.PathLike paths work as strings do
  assert read_jsonl(tmp_path / "as_path.jsonl") == rows
  copy = str(tmp_path / "model")
  shutil.copytree(trained, copy)
  result = api.train(schedule="predict", model_dir=copy)  # no files: the eval set, raw
  assert "probabilities" in read_jsonl(result.predictions)[0]


def best_export(model_dir):
  root = os.path.join(model_dir, "export", "best_hub")
  return os.path.join(root, sorted(os.listdir(root))[-1], "eval_result.json")


def test_the_best_checkpoint_is_the_default_and_a_lost_one_is_said(tmp_path, trained, capsys):
  model_dir = str(tmp_path / "model")
  shutil.copytree(trained, model_dir)
  with open(best_export(model_dir)) as f:
    result = json.load(f)
  result["global_step"] = 10  # as if the evaluation at step 10 had been the best
  with open(best_export(model_dir), "w") as f:
    json.dump(result, f)
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(20))
  outputs = {}
  for choice in (None, "latest", "best", os.path.join(model_dir, "model.ckpt-10")):
    output = str(tmp_path / f"{choice is None}-{os.path.basename(str(choice))}.jsonl")
    api.predict(model_dir, data, output=output, checkpoint=choice,
                bindings=["prediction.all_probabilities = True"])
    outputs[choice] = [r["probabilities"]["odd"] for r in read_jsonl(output)]
  said = capsys.readouterr()  # finetune's log lines
  assert "checkpoint of step 10 (the best by accuracy)" in said.out + said.err
  assert outputs[None] == outputs["best"] == outputs[os.path.join(model_dir, "model.ckpt-10")]
  assert outputs[None] != outputs["latest"]  # 10 more steps at rate 0.05 moved the model
  for name in os.listdir(model_dir):
    if name.startswith("model.ckpt-10."):
      os.remove(os.path.join(model_dir, name))
  api.predict(model_dir, data, output=str(tmp_path / "fallback.jsonl"))
  said = capsys.readouterr()
  assert "the best, step 10, is no longer kept" in said.out + said.err
  with pytest.raises(FinetuneError, match=r"best evaluation was at step 10, whose checkpoint is "
                     r"no longer in .* \(kept: steps 0, 20;"):
    api.predict(model_dir, data, output=str(tmp_path / "x.jsonl"), checkpoint="best")
  with pytest.raises(FinetuneError, match="neither 'latest', 'best', a checkpoint"):
    api.predict(model_dir, data, output=str(tmp_path / "x.jsonl"), checkpoint="ckpt-99")
  assert not os.path.exists(tmp_path / "x.jsonl")


def _bad_files(tmp_path):
  """{case: (files, bindings, what the error must say)}."""
  good = eval_rows(3)
  renamed = tmp_path / "renamed.csv"
  with open(renamed, "w") as f:
    f.write(",".join(["id"] + ["pixel_x" if c == "pixel_3" else c for c in PIXELS]) + "\n")
    f.write(",".join(["1"] + [good[0][c] for c in PIXELS]) + "\n")
  (tmp_path / "empty.csv").write_bytes(b"")
  (tmp_path / "header.csv").write_text(",".join(PIXELS) + "\n\n")
  bad_row = write_unlabelled(tmp_path / "bad_row.csv", good)
  with open(bad_row, "a") as f:
    f.write(",".join(["z", "x", "oops"] + ["0"] * 63) + "\n")
  nan_row = write_unlabelled(tmp_path / "nan_row.csv", good)
  with open(nan_row, "a") as f:
    f.write(",".join(["z", "x", "nan"] + ["0"] * 63) + "\n")
  other_digits = {}  # numbers Python reads and TensorFlow does not
  for name, value in (("underscore", "1_0"), ("full_width", "\uff11")):
    other_digits[name] = write_unlabelled(tmp_path / f"{name}.csv", good)
    with open(other_digits[name], "a") as f:
      f.write(",".join(["z", "x"] + [value] * 64) + "\n")
  short_row = write_unlabelled(tmp_path / "short.csv", good)
  with open(short_row, "a") as f:
    f.write("z,x,1,2\n")
  semicolons = tmp_path / "semi.csv"
  semicolons.write_text(";".join(PIXELS) + "\n" + ";".join(["0"] * 64) + "\n")
  plain = write_unlabelled(tmp_path / "plain.csv", good)
  other_header = tmp_path / "other.csv"
  other_header.write_text(",".join(PIXELS) + "\n" + ",".join(["0"] * 64) + "\n")
  return {
      "renamed column": ([str(renamed)], [], r"lacks the training data's feature columns pixel_3; "
                         r"it has extra columns id, pixel_x"),
      "empty file": ([str(tmp_path / "empty.csv")], [], r"empty.csv' is empty or its first line is blank"),
      "header only": ([str(tmp_path / "header.csv")], [], r"header.csv' has a header but no rows"),
      "bad value": ([bad_row], [], r"bad_row.csv', row 3 \(line 5\): column 'pixel_63' is 'oops', "
                    r"not a finite float"),
      "nan value": ([nan_row], [], r"row 3 \(line 5\): column 'pixel_63' is 'nan'"),
      "underscore": ([other_digits["underscore"]], [], r"underscore.csv', row 3 \(line 5\): "
                     r"column 'pixel_0' is '1_0', not a finite float"),
      "full width": ([other_digits["full_width"]], [], "column 'pixel_0' is '\uff11', not a "
                     "finite float"),
      "short row": ([short_row], [], r"short.csv', row 3 \(line 5\) has 4 fields where the "
                    r"header has 66"),
      "semicolons": ([str(semicolons)], [], r"looks ';'-separated"),
      "two headers": ([plain, str(other_header)], [], r"differs from that of"),
      "keep absent": ([plain], ["prediction.keep_columns = ['key']"],
                      r"keep_columns names key, not in the header of .*columns are: id, note"),
      "keep reserved": ([plain], ["prediction.keep_columns = ['class']"],
                        r"keep_columns names class, which every prediction row uses"),
      "top_k too big": ([plain], ["prediction.top_k = 3"],
                        r"top_k = 3 is more than the head's 2 classes"),
      "no match": ([str(tmp_path / "nothing*.csv")], [], r"No files match --predict_files"),
  }


def test_mistakes_are_named_before_anything_is_written(trained, tmp_path):
  before = sorted(os.listdir(trained))
  for case, (files, bindings, message) in _bad_files(tmp_path).items():
    output = tmp_path / "out.csv"
    with pytest.raises(FinetuneError, match=message):
      api.predict(trained, files, output=str(output), bindings=bindings)
    assert not output.exists() and not os.path.exists(str(output) + ".tmp"), case
  assert sorted(os.listdir(trained)) == before


@pytest.mark.parametrize("kwargs, message", [
    (dict(output="out.parquet"), r"has no known format; end it in .jsonl or .csv"),
    (dict(output="missing_folder/out.csv"), r"folder of --predict_output .* does not exist"),
])
def test_output_mistakes_are_named(trained, tmp_path, kwargs, message):
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(2))
  kwargs = {k: str(tmp_path / v) for k, v in kwargs.items()}
  with pytest.raises(FinetuneError, match=message):
    api.predict(trained, data, **kwargs)


def test_prediction_flags_belong_to_the_predict_schedule(trained, tmp_path):
  with pytest.raises(FinetuneError, match=r"--predict_files only apply to --schedule=predict "
                     r"\(this run's schedule is evaluate\)"):
    api.train(model_dir=trained, schedule="evaluate", predict_files=[EVAL_CSV])
  with pytest.raises(FinetuneError, match="--predict_output needs --predict_files"):
    api.train(model_dir=trained, schedule="predict", predict_output=str(tmp_path / "p.csv"))


def test_files_as_spreadsheets_and_tools_write_them(trained, tmp_path):
  """A byte-order mark, CRLF line endings, a quoted header with spaces, a last line without
  its newline, and a text column far longer than Python's csv field limit: read as written,
  every row predicted and joined."""
  rows = eval_rows(5)
  header = ",".join(f'" {c} "' for c in ["note"] + PIXELS)
  lines = [",".join(["x" * 200_000 if i == 2 else f"n{i}"] + [r[c] for c in PIXELS])
           for i, r in enumerate(rows)]
  path = tmp_path / "excel.csv"
  path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join([header] + lines).encode())
  output = str(tmp_path / "out.jsonl")
  api.predict(trained, str(path), output=output, checkpoint="latest",
              bindings=["prediction.keep_columns = ['note']",
                        "prediction.all_probabilities = True"])
  predicted = read_jsonl(output)
  assert [len(r["note"]) for r in predicted] == [2, 2, 200_000, 2, 2]
  np.testing.assert_allclose([[r["probabilities"]["even"], r["probabilities"]["odd"]]
                              for r in predicted], serving_probabilities(trained, rows),
                             rtol=1e-5, atol=1e-6)


def test_damaged_files_and_outputs_are_named_not_tracebacks(trained, tmp_path):
  whole = write_unlabelled(tmp_path / "whole.csv.gz", eval_rows(400), opener=gzip.open)
  cut = tmp_path / "cut.csv.gz"
  cut.write_bytes(open(whole, "rb").read()[:3000])
  (tmp_path / "folder.csv").mkdir()
  carriage = write_unlabelled(tmp_path / "cr.csv", eval_rows(2))
  with open(carriage, "a") as f:
    f.write("a\rb,x," + ",".join(["0"] * 64) + "\n")
  for files, kwargs, message in [
      ([str(cut)], {}, r"cut.csv.gz' is a gzip file that is cut short or damaged"),
      ([carriage], {}, r"cr.csv', row 2 \(line 4\) holds a carriage return \(CR\) inside a "
                       r"field"),
      ([carriage], {"output": carriage}, r"is one of the files to predict on"),
      ([carriage], {"output": str(tmp_path / "folder.csv")}, r"folder.csv' is a directory"),
  ]:
    kwargs.setdefault("output", str(tmp_path / "out.jsonl"))
    with pytest.raises(FinetuneError, match=message):
      api.predict(trained, files, **kwargs)
  assert not [p for p in os.listdir(tmp_path) if p.startswith("out.jsonl")]
  assert open(carriage, "rb").read().count(b"\n") == 4  # the input was not touched


def test_predicting_into_another_file_leaves_the_model_dir_alone(trained, tmp_path, capsys,
                                                                 monkeypatch):
  """A model_dir that may not be written (a shared, read-only copy) predicts into the user's
  file: it is not checked for writing, and the command is not recorded in it."""
  from finetune.runtime import preflight  # pylint: disable=g-import-not-at-top
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(3))
  before = {p: os.path.getmtime(os.path.join(trained, p)) for p in os.listdir(trained)}

  def read_only(model_dir):
    raise FinetuneError(f"'{model_dir}' is read-only")

  monkeypatch.setattr(preflight, "check_writable", read_only)
  code, out = run_command([f"--model_dir={trained}", "--schedule=predict",
                           f"--predict_files={data}", f"--predict_output={tmp_path / 'p.csv'}",
                           "--checkpoint=model.ckpt-10"], capsys)  # relative to the model_dir
  assert code == 0, out.err
  with open(tmp_path / "p.csv") as f:
    assert len(list(csv.DictReader(f))) == 3
  assert {p: os.path.getmtime(os.path.join(trained, p)) for p in os.listdir(trained)} == before
  code, out = run_command([f"--model_dir={trained}", "--schedule=predict",
                           f"--predict_files={data}"], capsys)  # into the model_dir: checked
  assert code == 2 and "is read-only" in out.err


def test_a_named_checkpoint_is_said_with_its_step(trained, tmp_path, capsys):
  data = write_unlabelled(tmp_path / "new.csv", eval_rows(3))
  api.predict(trained, data, output=str(tmp_path / "p.jsonl"), checkpoint="model.ckpt-10")
  said = capsys.readouterr()
  assert f"checkpoint of step 10 (as given): {os.path.join(trained, 'model.ckpt-10')}" in (
      said.out + said.err)
  with pytest.raises(FinetuneError, match=r"model.ckpt-10.index' is neither .* \(e.g. "
                     r"runs/x/model.ckpt-600 \(without .index\)"):
    api.predict(trained, data, output=str(tmp_path / "p.jsonl"),
                checkpoint=os.path.join(trained, "model.ckpt-10.index"))


def test_rows_predicted_are_counted_against_the_files():
  from finetune.prediction import batch  # pylint: disable=g-import-not-at-top
  seen = [0, 0]
  for file_index, row in [(0, 0), (0, 1), (1, 0)]:
    batch._check_order(seen, file_index, row, ["a", "b"])  # pylint: disable=protected-access
  with pytest.raises(FinetuneError, match="is for a row 1 where row 2 was next"):
    batch._check_order(seen, 0, 1, ["a", "b"])  # pylint: disable=protected-access
  with pytest.raises(FinetuneError, match="b has 3 rows but 1 were predicted"):
    batch._check_counts(seen, [2, 3], ["a", "b"])  # pylint: disable=protected-access
