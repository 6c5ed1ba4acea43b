"""Sweeps as schedulers and accidents meet them: `--dry_run` lines run by a shell in parallel
and collected from their model_dirs alone, trials that die with a SIGKILLed sweep, a rerun
that waits for them instead of failing, grid values of the wrong type."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from finetune.process import lock
from finetune.process import processes
from finetune.trials import state
from tests import helpers



def base(module, steps=20):
  return [
      "--gin_file=digits/finetune.gin", f"--gin_bindings=MODULE_HANDLE = '{module}'",
      f"--gin_bindings=TRAIN_STEPS = {steps}",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0"
  ]


def test_dry_run_lines_run_by_a_shell_in_parallel_are_collected(tmp_path, digits_module):
  flags = base(digits_module) + [
      f"--sweep_dir={tmp_path}", "--grid=LEARNING_RATE=[0.01, 0.03]", "--parallel=2"
  ]
  lines = helpers.run_sweep(*flags, "--dry_run").stdout.splitlines()
  assert len(lines) == 2 and all("finetune.train" in line for line in lines)
  shells = [  # as a scheduler runs task i: line i, through a shell, both at once
      subprocess.Popen(["bash", "-c", line], cwd=helpers.REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True) for line in lines
  ]
  for shell in shells:
    out, _ = shell.communicate(timeout=300)
    assert shell.returncode == 0, out
  trial_dirs = sorted((tmp_path / "trials").iterdir())
  assert [d.name for d in trial_dirs] == ["0-LEARNING_RATE=0.01", "1-LEARNING_RATE=0.03"]
  for trial_dir in trial_dirs:  # a plain model_dir: no sweep files
    assert (trial_dir / "metrics.json").exists() and not (trial_dir / "status.json").exists()

  # Collected and rerun through the API, as the command calls it (the command's own --collect
  # and rerun are tested in test_sweep.py): the trials above are what this test is about.
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.trials import grid as grid_lib  # pylint: disable=g-import-not-at-top
  api.collect(str(tmp_path), grid=[grid_lib.parse_grid("LEARNING_RATE=[0.01, 0.03]")])
  out = (tmp_path / "results.md").read_text()  # what `--collect` prints
  rows = {r["trial"]: r for r in helpers.sweep_results(tmp_path)}
  assert set(rows) == {d.name for d in trial_dirs}
  for trial_dir in trial_dirs:
    row = rows[trial_dir.name]
    metrics = json.loads((trial_dir / "metrics.json").read_text())
    assert row["state"] == "done" and row["rank"] in ("1", "2") and row["steps"] == "20"
    assert float(row["accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-4)
    assert row["LEARNING_RATE"] == trial_dir.name.split("=")[1]
    assert os.path.isdir(row["export"])
  assert "Best trial by accuracy" in out and "No finished trial" not in out

  # Without the grid flags, the swept values come from the recorded command lines.
  api.collect(str(tmp_path))
  assert {(r["trial"], r["LEARNING_RATE"], r["state"]) for r in helpers.sweep_results(tmp_path)} == {
      (name, row["LEARNING_RATE"], "done") for name, row in rows.items()}
  # Running the sweep itself now finds both trials finished: nothing runs again.
  api.sweep(["digits/finetune.gin"], str(tmp_path), {"LEARNING_RATE": [0.01, 0.03]},
            bindings=[f[len("--gin_bindings="):] for f in flags if f.startswith("--gin_bindings=")],
            parallel=2)
  assert all(helpers.command_count(d) == 1 for d in trial_dirs)
  assert {r["state"] for r in helpers.sweep_results(tmp_path)} == {"done"}


def _lock_owner(trial_dir):
  try:
    return json.loads((trial_dir / lock.LOCK_FILE).read_text())
  except (OSError, ValueError):
    return None


def test_trials_die_with_a_killed_sweep_and_a_rerun_waits_for_them(tmp_path, digits_module):
  """The trial is paused (SIGSTOP) while its sweep is SIGKILLed, so that it is still alive,
  with the kernel's SIGTERM pending, when the rerun starts: the rerun must say it waits for
  it, and, once it is let go and stops, resume it to the end."""
  args = base(digits_module, steps=30) + [f"--sweep_dir={tmp_path}", "--grid=LEARNING_RATE=[0.01]"]
  trial_dir = tmp_path / "trials" / "0-LEARNING_RATE=0.01"
  first_log, rerun_log = tmp_path / "first.log", tmp_path / "rerun.log"
  with open(first_log, "w") as out:
    first = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                             stdout=out, stderr=subprocess.STDOUT)
  pid, rerun = None, None
  try:
    assert helpers.wait_for(lambda: _lock_owner(trial_dir), timeout=240), first_log.read_text()
    pid = _lock_owner(trial_dir)["pid"]
    os.kill(pid, signal.SIGSTOP)
    first.kill()
    first.wait()
    assert processes.alive(pid)  # paused, with SIGTERM pending from the kernel
    with open(rerun_log, "w") as out:
      rerun = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                               stdout=out, stderr=subprocess.STDOUT)
    waiting = f"waiting for 0-LEARNING_RATE=0.01: pid {pid}"
    assert helpers.wait_for(lambda: waiting in rerun_log.read_text(), timeout=120), (
        rerun_log.read_text())
    os.kill(pid, signal.SIGCONT)
    assert helpers.wait_for(lambda: not processes.alive(pid), timeout=120)  # died with its sweep
    assert "SIGTERM" in (trial_dir / "trial.log").read_text()
    assert rerun.wait(timeout=300) == 0, rerun_log.read_text()
  finally:
    if pid and processes.alive(pid):
      os.kill(pid, signal.SIGKILL)
    for proc in (first, rerun):
      if proc and proc.poll() is None:
        proc.kill()
        proc.wait()
  (row,) = helpers.sweep_results(tmp_path)
  assert row["state"] == "done" and row["steps"] == "30", rerun_log.read_text()
  assert "in use by" not in rerun_log.read_text()


def _text(path):
  return path.read_text() if path.exists() else ""


def test_ctrl_c_reaches_the_sweep_alone_which_stops_its_trial_once_with_a_checkpoint(
    tmp_path, digits_module):
  """Ctrl-C in a terminal sends SIGINT to the whole foreground process group. The trial must
  hear of it once, through the sweep's SIGTERM, and stop cleanly at its current step: a trial
  that got the group's SIGINT and then the sweep's SIGTERM stopped at once, unsaved."""
  args = base(digits_module, steps=1000000) + [
      f"--sweep_dir={tmp_path}", "--grid=LEARNING_RATE=[0.01]",
      "--gin_bindings=run_config.save_checkpoints_steps = 1000000",
      "--gin_bindings=training.progress_every_secs = 0.1"
  ]
  trial_dir = tmp_path / "trials" / "0-LEARNING_RATE=0.01"
  sweep_log = tmp_path / "sweep.log"
  with open(sweep_log, "w") as out:
    proc = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
  try:
    # Training is under way once a progress line past step 0 is printed.
    assert helpers.wait_for(lambda: re.search(r"step [1-9]\d*/", _text(trial_dir / "trial.log")),
                            timeout=240), _text(sweep_log) + _text(trial_dir / "trial.log")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert proc.wait(timeout=120) == 130, _text(sweep_log)
  finally:
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()
  step = helpers.checkpoint_step(trial_dir)
  assert step > 0  # saved on the way out, not by the (never reached) periodic save
  trial_log = _text(trial_dir / "trial.log")
  assert trial_log.strip().splitlines()[-1].startswith(
      f"finetune: Stopped by SIGTERM at step {step}; the checkpoint is saved"), trial_log
  assert "SIGINT" not in trial_log
  last = _text(sweep_log).strip().splitlines()[-1]
  assert last.startswith("finetune: Stopped by SIGINT while running the sweep."), _text(sweep_log)
  assert "Traceback" not in _text(sweep_log)


def test_a_grid_value_of_the_wrong_type_refuses_the_sweep_before_any_trial(tmp_path,
                                                                           digits_module):
  result = helpers.run_sweep(*base(digits_module), f"--sweep_dir={tmp_path}",
                             "--grid=TRAIN_STEPS=[20, 'ten']", check=False)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "finetune: error: Trial 1-TRAIN_STEPS=ten of the sweep cannot be configured: "
      "training.train_steps = %TRAIN_STEPS is a string; it takes an integer.")
  assert not (tmp_path / "trials").exists()


def test_grid_values_out_of_range_fail_their_trial_with_one_clean_line(tmp_path,
                                                                        digits_module):
  result = helpers.run_sweep(*base(digits_module), f"--sweep_dir={tmp_path}", "--zip", "--parallel=2",
                 "--grid=TRAIN_STEPS=[-5, 20]",
                 "--grid=learning_rate_schedule.base_learning_rate=[0.01, -1.0]",
                 check=False)
  assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
  errors = {r["trial"]: r["error"] for r in helpers.sweep_results(tmp_path)}
  assert errors == {
      "0-TRAIN_STEPS=-5-base_learning_rate=0.01":
          "training.train_steps must be a positive integer, got -5.",
      "1-TRAIN_STEPS=20-base_learning_rate=-1.0":
          "learning_rate_schedule.base_learning_rate must be > 0, got -1.0.",
  }
  for name in errors:
    status = json.loads((tmp_path / "trials" / name / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == errors[name]


@pytest.mark.parametrize("args, message", [
    (["--grid=LEARNING_RATE=[0.1]"], "Pass --sweep_dir=DIR."),
    (["--sweep_dir={tmp}", "--grid=LEARNING_RATE=0.1"], "Grid 'LEARNING_RATE=0.1' is not PARAM="),
    (["--sweep_dir={tmp}", "--grid=LEARNING_RATE=[0.1]", "--parallel=0"],
     "--parallel is the number of trials run at once: 1 or more, got 0."),
    (["--sweep_dir={tmp}", "--collect"], "No trials under '{tmp}/trials': run the sweep"),
])
def test_bad_sweep_input_is_one_line_and_exit_code_2(tmp_path, args, message):
  args = [a.format(tmp=tmp_path) for a in args]
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", *args, check=False)
  assert result.returncode == 2 and result.stdout == ""
  assert result.stderr.startswith("finetune: error: " + message.format(tmp=tmp_path))
  assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "trials").exists()


def _model_dir(path, step, train_steps="%TRAIN_STEPS", early_stopping="None", checkpoint=None,
               bindings=("LEARNING_RATE = 0.01",)):
  """A model_dir as a finetune.train run leaves it (only the files the sweep reads)."""
  path.mkdir(parents=True)
  (path / "operative_config.gin").write_text(
      f"TRAIN_STEPS = 20\ntraining.early_stopping = {early_stopping}\n"
      f"training.train_steps = {train_steps}\n")
  (path / "metrics.json").write_text(json.dumps({"accuracy": 0.5 + step / 100,
                                                 "global_step": step}))
  if checkpoint is not None:
    (path / "checkpoint").write_text(f'model_checkpoint_path: "model.ckpt-{checkpoint}"\n')
    (path / f"model.ckpt-{checkpoint}.index").write_bytes(b"")
  words = ["python", "-m", "finetune.train", f"--model_dir={path}", "--gin_file=f.gin",
           "--gin_bindings=run_config.intra_op_threads = 1", "--gin_bindings=TRAIN_STEPS = 20"]
  words += [f"--gin_bindings={b}" for b in bindings]
  (path / "command_lines.txt").write_text("2026-01-01T00:00:00  " + " ".join(
      f"'{w}'" for w in words) + "\n")


def test_collect_reads_what_a_run_leaves_and_lists_planned_trials(tmp_path):
  """Finished: metrics at the train steps (through the macro), or, with early stopping, at
  the last checkpoint; a run stopped midway is unfinished; a planned trial never started."""
  trials = tmp_path / "trials"
  _model_dir(trials / "0-a", 20, bindings=["LEARNING_RATE = 0.01"])
  _model_dir(trials / "1-b", 10, bindings=["LEARNING_RATE = 0.03"])
  _model_dir(trials / "2-c", 12, early_stopping="@early_stopping()", checkpoint=12,
             bindings=["LEARNING_RATE = 0.1"])
  _model_dir(trials / "3-d", 12, early_stopping="@early_stopping()", checkpoint=15,
             bindings=["LEARNING_RATE = 0.3"])
  assert [state.finished(str(trials / n)) for n in ("0-a", "1-b", "2-c", "3-d")] == [
      True, False, True, False]
  from finetune.trials import results as results_lib  # pylint: disable=g-import-not-at-top
  rows = results_lib.collect(str(tmp_path))
  assert [(r["trial"], r["state"]) for r in rows] == [("0-a", "done"), ("2-c", "done"),
                                                       ("1-b", "unfinished"),
                                                       ("3-d", "unfinished")]
  assert rows[1]["params"] == {"LEARNING_RATE": 0.1}  # the swept binding alone
  planned = [("0-a", {"x": 1}), ("4-e", {"x": 2})]
  rows = {r["trial"]: r for r in results_lib.collect(str(tmp_path), planned=planned)}
  assert rows["4-e"]["state"] == "not started" and rows["0-a"]["params"] == {"x": 1}


def test_collect_keeps_swept_run_config_bindings_but_not_the_sweeps_threads(tmp_path):
  from finetune.trials import results as results_lib  # pylint: disable=g-import-not-at-top
  _model_dir(tmp_path / "t", 20, bindings=["run_config.save_checkpoints_steps = 5",
                                           "run_config.inter_op_threads = 1"])
  assert results_lib.command_bindings(str(tmp_path / "t")) == {
      "TRAIN_STEPS": 20, "run_config.save_checkpoints_steps": 5}
