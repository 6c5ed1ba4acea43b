"""Sweeps over module handles and learning rates: ranking, resume, failures, dry run, collect."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from finetune import files as files_lib
from finetune.trials import grid
from finetune.trials import results as results_lib
from finetune.errors import FinetuneError
from tests import builders
from tests import helpers



@pytest.fixture(scope="module")
def quality_modules(tmp_path_factory):
  """Two modules for parity from frozen features: pretrained, and untrained."""
  root = tmp_path_factory.mktemp("quality")
  return {
      "good":
          builders.build_digits_module(str(root / "good"),
                                       steps=400,
                                       all_digits=True,
                                       feature_dim=16,
                                       hidden_units=32),
      "random":
          builders.build_digits_module(str(root / "random"),
                                       steps=0,
                                       feature_dim=16,
                                       hidden_units=32),
  }


BASE = [
    "--gin_file=digits/finetune.gin", "--gin_bindings=hub_module.trainable = False",
    "--gin_bindings=TRAIN_STEPS = 150", "--gin_bindings=run_config.save_checkpoints_steps"
    " = 150", "--gin_bindings=learning_rate_schedule.warmup_steps = 0"
]


@pytest.fixture(scope="module")
def ranked_sweep(tmp_path_factory, quality_modules):
  """One finished sweep (2 handles x 2 rates, two trials at a time) that several tests read:
  (its sweep_dir, its stdout). A test that changes it works on a copy."""
  sweep_dir = tmp_path_factory.mktemp("ranked_sweep")
  handles = [quality_modules[k] for k in ("good", "random")]
  # Ten steps per session.run: two trials build their training loops side by side.
  out = helpers.run_sweep(*BASE, "--gin_bindings=training.steps_per_run = 10",
                          f"--sweep_dir={sweep_dir}", f"--grid=MODULE_HANDLE={handles!r}",
                          "--grid=LEARNING_RATE=[0.01, 0.03]", "--parallel=2").stdout
  return sweep_dir, out


def test_sweep_over_handles_and_rates_ranks_trials(ranked_sweep):
  """Trials run two at a time and are ranked by their own metrics. Which module wins is not
  asserted: trials train multi-threaded, side by side, and their order is not the point."""
  tmp_path, out = ranked_sweep
  rows = helpers.sweep_results(tmp_path)
  assert len(rows) == 4 and all(r["state"] == "done" for r in rows)
  assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
  accuracies = [float(r["accuracy"]) for r in rows]
  assert accuracies == sorted(accuracies, reverse=True)
  for row in rows:  # each row is its own trial's: parameters, metrics, export
    trial_dir = tmp_path / "trials" / row["trial"]
    assert float(row["accuracy"]) == pytest.approx(
        json.loads((trial_dir / "metrics.json").read_text())["accuracy"], abs=1e-4)
    assert os.path.basename(row["MODULE_HANDLE"]) in row["trial"]
    assert row["steps"] == "150" and os.path.exists(row["export"])
  assert {(os.path.basename(r["MODULE_HANDLE"]), r["LEARNING_RATE"]) for r in rows} == {
      (m, lr) for m in ("good", "random") for lr in ("0.01", "0.03")}
  assert f"Best trial by accuracy: {rows[0]['trial']}" in out
  assert os.path.exists(tmp_path / "results.md")
  trial = json.loads((tmp_path / "trials" / rows[0]["trial"] / "trial.json").read_text())
  assert set(trial["params"]) == {"MODULE_HANDLE", "LEARNING_RATE"}


def test_failing_trial_is_reported_and_the_rest_finish(tmp_path, quality_modules):
  handles = [str(tmp_path / "missing_module"), quality_modules["good"]]
  helpers.run_sweep(*BASE, f"--sweep_dir={tmp_path}", f"--grid=MODULE_HANDLE={handles!r}",
        "--grid=LEARNING_RATE=[0.01, 0.03]", "--zip")
  rows = helpers.sweep_results(tmp_path)
  assert [r["state"] for r in rows] == ["done", "failed"]
  assert "missing_module' does not exist" in rows[1]["error"]
  assert rows[1]["rank"] == "" and rows[0]["rank"] == "1"


def test_interrupted_sweep_resumes_without_redoing_work(tmp_path, quality_modules):
  args = [
      "--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
      f"--gin_bindings=MODULE_HANDLE = '{quality_modules['good']}'",
      "--gin_bindings=TRAIN_STEPS = 60", "--gin_bindings=run_config."
      "save_checkpoints_steps = 20", "--grid=LEARNING_RATE=[0.01, 0.02, 0.03]"
  ]
  proc = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args],
                          cwd=helpers.REPO,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
  trials = tmp_path / "trials"
  deadline = time.time() + 240
  second = None
  while time.time() < deadline:  # wait for trial 0 to finish and trial 1 to checkpoint
    names = sorted(os.listdir(trials)) if trials.exists() else []
    if len(names) >= 2 and os.path.exists(trials / names[1] / "model.ckpt-20.index"):
      second = names[1]
      break
    time.sleep(0.1)
  assert second, "the sweep never reached its second trial"
  proc.send_signal(signal.SIGTERM)
  proc.wait(timeout=60)
  first = sorted(os.listdir(trials))[0]
  assert files_lib.read_json(str(trials / first / "status.json"))["state"] == "done"
  assert files_lib.read_json(str(trials / second / "status.json"))["state"] == "running"
  assert len(os.listdir(trials)) == 2  # the third never started

  # The same sweep again, through the API (the sweep's start-up saved; its trials are
  # processes all the same).
  from finetune import api  # pylint: disable=g-import-not-at-top
  api.sweep(["digits/finetune.gin"], str(tmp_path), {"LEARNING_RATE": [0.01, 0.02, 0.03]},
            bindings=[a[len("--gin_bindings="):] for a in args if a.startswith("--gin_bindings=")])
  rows = {r["trial"]: r for r in helpers.sweep_results(tmp_path)}
  assert len(rows) == 3 and all(r["state"] == "done" and r["steps"] == "60" for r in rows.values())
  assert helpers.command_count(trials / first) == 1  # finished: not run again
  assert helpers.command_count(trials / second) == 2  # resumed in its own model_dir


def test_dry_run_prints_one_command_per_trial_and_runs_nothing(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "TFHUB_CACHE_DIR"}
  result = helpers.python_module(
      "finetune.sweep", "--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
      "--grid=MODULE_HANDLE=['gs://bucket/m1', 'http://127.0.0.1:9/never_fetched/m2.tar.gz']",
      "--grid=LEARNING_RATE=[0.01, 0.1]", "--parallel=2", "--dry_run", env=env)
  assert result.returncode == 0, result.stderr
  out = result.stdout
  commands = [l for l in out.splitlines() if "finetune.train" in l]
  assert len(commands) == 4
  # The scheduler's tasks share one module cache, as the sweep's own trials do.
  assert all(l.startswith(f"env TFHUB_CACHE_DIR={tmp_path}/hub_cache ") for l in commands), out
  assert "LEARNING_RATE = 0.1" in commands[1] and "m1-LEARNING_RATE=0.1" in commands[1]
  assert "run_config.intra_op_threads = " in commands[0]
  assert not os.path.exists(tmp_path / "trials")


def test_collect_rebuilds_results_from_trial_directories(tmp_path, ranked_sweep):
  shutil.copytree(ranked_sweep[0], tmp_path, dirs_exist_ok=True)  # the shared sweep stays as it is
  before = helpers.sweep_results(tmp_path)
  os.remove(tmp_path / "results.csv")
  os.remove(tmp_path / "results.md")
  helpers.run_sweep(f"--sweep_dir={tmp_path}", "--collect")
  after = helpers.sweep_results(tmp_path)
  assert [(r["trial"], r["accuracy"]) for r in after
         ] == [(r["trial"], r["accuracy"]) for r in before]
  trial_dirs = [tmp_path / "trials" / r["trial"] for r in after]
  assert all(helpers.command_count(d) == 1 for d in trial_dirs)  # nothing ran again
  # The same from a tf.io.gfile filesystem (ram:// here; gs:// on a cluster).
  remote = "ram://sweeps/collect_test"
  for root, _, files in os.walk(tmp_path / "trials"):
    for name in files:
      path = os.path.join(root, name)
      target = remote + "/" + os.path.relpath(path, tmp_path)
      tf.io.gfile.makedirs(os.path.dirname(target))
      tf.io.gfile.copy(path, target, overwrite=True)
  rows = results_lib.collect(remote)
  assert [r["trial"] for r in rows] == [r["trial"] for r in after]
  results_lib.write_results(remote, rows, "accuracy")
  assert "Best trial by accuracy" in tf.io.gfile.GFile(remote + "/results.md").read()
  result = helpers.run_sweep(f"--sweep_dir={tmp_path}", "--collect", "--metric=acuracy", check=False)
  assert result.returncode == 2 and "Metric 'acuracy' is not in the trials' metrics" in (
      result.stderr)


def test_plan_cross_product_zip_names_and_sweep_files(tmp_path):
  trials = grid.plan([("hub_module.handle", ["/m/text_a", "http://h/b.tar.gz"]),
                        ("optimization.optimizer", ["@tf.train.AdamOptimizer"])])
  assert [n for n, _ in trials
         ] == ["0-text_a-optimizer=AdamOptimizer", "1-b-optimizer=AdamOptimizer"]
  assert len(grid.plan([("a", [1, 2]), ("b", [3, 4])])) == 4
  # Scoped parameters of several modules keep their scope in the name.
  assert [n for n, _ in grid.plan([("a/hub_module.learning_rate_multiplier", [0.1]),
                                   ("b/hub_module.learning_rate_multiplier", [1.0])])] == [
      "0-a.learning_rate_multiplier=0.1-b.learning_rate_multiplier=1.0"]
  assert [v for _, v in grid.plan([("a", [1, 2]), ("b", [3, 4])], zipped=True)] == [{
      "a": 1,
      "b": 3
  }, {
      "a": 2,
      "b": 4
  }]
  with pytest.raises(FinetuneError, match="--zip needs grids of one length"):
    grid.plan([("a", [1, 2]), ("b", [3])], zipped=True)
  with pytest.raises(FinetuneError, match="is not PARAM=\\[v1, v2, ...\\]"):
    grid.parse_grid("a = 1")
  json_file = tmp_path / "s.json"
  json_file.write_text(json.dumps({"grid": {"a": [1, 2], "b": ["x", "y"]}, "zip": True}))
  assert grid.read_sweep_file(str(json_file)) == ([("a", [1, 2]), ("b", ["x", "y"])], True)
  gin_file = tmp_path / "s.gin"
  gin_file.write_text("# learning rates\nLEARNING_RATE = [0.1, 0.01]\nMODULE_HANDLE = ['m']\n")
  assert grid.read_sweep_file(str(gin_file)) == ([("LEARNING_RATE", [0.1, 0.01]),
                                                    ("MODULE_HANDLE", ["m"])], False)
  command = grid.trial_command(["f.gin"], [], {
      "o": "@tf.train.AdamOptimizer",
      "s": "x"
  },
                                 "/d",
                                 threads=0)
  assert "--gin_bindings=o = @tf.train.AdamOptimizer" in command
  assert "--gin_bindings=s = 'x'" in command


def test_results_png_compares_trials_when_matplotlib_is_there(tmp_path):
  pytest.importorskip("matplotlib")
  rows = [{
      "trial": f"{i}-t",
      "state": "done",
      "params": {
          "a": i
      },
      "steps": 1,
      "metrics": {
          "accuracy": 0.5 + i / 10
      },
      "wall_time_secs": 1.0,
      "export": None,
      "error": ""
  } for i in range(3)]
  paths, best = results_lib.write_results(str(tmp_path), rows, "accuracy")
  assert best["trial"] == "0-t"  # rows come ranked; write_results keeps their order
  with open(paths["png"], "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_results_are_in_tensorboards_hparams_dashboard(tmp_path):
  """Each finished trial is a session with its parameters and metrics, read back with
  TensorBoard's own event reader and hparams metadata parser."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import metadata  # pylint: disable=g-import-not-at-top
  rows = [{
      "trial": f"{i}-lr", "state": "done", "params": {"LEARNING_RATE": lr,
                                                      "MODULE_HANDLE": "/m/a"},
      "metrics": {"accuracy": 0.5 + i / 10, "loss": 1.0 - i / 10, "global_step": 100},
      "steps": 100, "wall_time_secs": 1.0, "export": None, "error": ""
  } for i, lr in enumerate([0.01, 0.03])] + [{
      "trial": "2-lr", "state": "failed", "params": {"LEARNING_RATE": 0.1}, "metrics": {},
      "steps": None, "wall_time_secs": 1.0, "export": None, "error": "boom"
  }]
  paths, _ = results_lib.write_results(str(tmp_path), rows, "accuracy")
  results_lib.write_results(str(tmp_path), rows, "accuracy")  # rewritten, not duplicated

  def load(path):
    accumulator = event_accumulator.EventAccumulator(path)
    accumulator.Reload()
    return accumulator

  root = load(paths["tensorboard"])
  experiment = metadata.parse_experiment_plugin_data(
      root.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG])
  assert [h.name for h in experiment.hparam_infos] == ["LEARNING_RATE", "MODULE_HANDLE"]
  assert sorted(m.name.tag for m in experiment.metric_infos) == ["accuracy", "loss"]
  assert sorted(os.listdir(paths["tensorboard"]))[:2] == ["0-lr", "1-lr"]
  assert not os.path.exists(os.path.join(paths["tensorboard"], "2-lr"))  # failed: no session
  for i, lr in enumerate([0.01, 0.03]):
    run = load(os.path.join(paths["tensorboard"], f"{i}-lr"))
    start = metadata.parse_session_start_info_plugin_data(
        run.PluginTagToContent("hparams")[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["LEARNING_RATE"].number_value == lr
    assert start.hparams["MODULE_HANDLE"].string_value == "/m/a"
    (accuracy,) = run.Scalars("accuracy")
    assert accuracy.value == pytest.approx(0.5 + i / 10) and accuracy.step == 100
  event_files = [f for f in os.listdir(os.path.join(paths["tensorboard"], "0-lr"))]
  assert len(event_files) == 1


def test_sweep_file_that_is_not_json_is_one_clear_error(tmp_path):
  bad = tmp_path / "grid.json"
  bad.write_text("{'grid': nope")
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
                 f"--sweep_file={bad}", check=False)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert f"Sweep file '{bad}' is not a sweep: JSONDecodeError" in result.stderr


def test_misspelled_grid_parameter_is_refused_before_any_trial_starts(tmp_path):
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
                 "--grid=learning_rate_schedule.base_learnig_rate=[0.1, 0.01]", check=False)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert "Trial 0-base_learnig_rate=0.1 of the sweep cannot be configured" in result.stderr
  assert "Did you mean: learning_rate_schedule.base_learning_rate" in result.stderr
  assert not (tmp_path / "trials").exists()
