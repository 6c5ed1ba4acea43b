"""Search sweeps with a real Optuna study: TPE over a module choice and a log-uniform rate,
a median pruner that stops a deliberately bad trial after its first evaluation, two workers
on one study, a killed worker's trial taken over, a study resumed, malformed spaces."""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import optuna
import pytest

from finetune import formatting
from finetune.errors import FinetuneError
from finetune.trials import space as space_lib
from finetune.trials import state
from tests import helpers


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
  """A module pretrained on all ten digits (its features tell parity), and an untrained one."""
  from tests import builders  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("search_modules")
  return {
      "good": builders.build_digits_module(str(root / "good"), steps=400, all_digits=True,
                                           feature_dim=16, hidden_units=32),
      "random": builders.build_digits_module(str(root / "random"), steps=0, feature_dim=16,
                                             hidden_units=32),
  }


def base(steps=40, every=20):
  return [
      "--gin_file=digits/finetune.gin", "--gin_bindings=hub_module.trainable = False",
      f"--gin_bindings=TRAIN_STEPS = {steps}",
      f"--gin_bindings=run_config.save_checkpoints_steps = {every}",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0",
      # No test here reads a trial's best module: each evaluation exports two, not three.
      "--gin_bindings=evaluation.best_export_metric = None"
  ]


def study(sweep_dir, name=None):
  storage = optuna.storages.JournalStorage(
      optuna.storages.journal.JournalFileBackend(os.path.join(sweep_dir, "study.journal")))
  return optuna.load_study(study_name=name or os.path.basename(sweep_dir), storage=storage)


def trial_dirs(sweep_dir):
  return sorted(os.listdir(os.path.join(sweep_dir, "trials")))


def search_in_process(*args):
  """What `python -m finetune.sweep ARGS` does for a search (sweep.py), called in this process
  through the API: the trials are still `finetune.train` processes; only the sweep's own
  start-up is saved. Returns the ranked rows."""
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.trials import grid as grid_lib  # pylint: disable=g-import-not-at-top
  flags = {}
  for arg in args:
    name, value = arg[2:].split("=", 1)
    flags.setdefault(name, []).append(value)
  one = lambda name, kind=str: kind(flags[name][0]) if name in flags else None
  return api.search(flags["gin_file"], one("sweep_dir"), flags.get("space", ()),
                    trials=one("trials", int), search=one("search"),
                    grid=[grid_lib.parse_grid(g) for g in flags.get("grid", ())],
                    bindings=flags.get("gin_bindings", ()), pruner=one("pruner") or "median",
                    startup_trials=one("startup_trials", int))


def test_tpe_search_over_handles_and_rates_ranks_resumes_and_collects(tmp_path, modules):
  handles = [modules["good"], modules["random"]]
  args = base(steps=20) + [f"--sweep_dir={tmp_path}", "--search=tpe", "--pruner=none",
                   "--startup_trials=1", "--space=LEARNING_RATE=loguniform(1e-3, 1e-1)",
                   f"--space=MODULE_HANDLE=choice({handles!r})"]
  out = helpers.run_sweep(*args, "--trials=2").stdout
  rows = helpers.sweep_results(tmp_path)
  assert [r["rank"] for r in rows] == ["1", "2"] and {r["state"] for r in rows} == {"done"}
  accuracies = [float(r["accuracy"]) for r in rows]
  assert accuracies == sorted(accuracies, reverse=True)
  for row in rows:
    assert 1e-3 <= float(row["LEARNING_RATE"]) <= 1e-1 and row["MODULE_HANDLE"] in handles
    assert row["steps"] == "20"
  trials = study(tmp_path).get_trials()
  assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
  assert sorted(t.value for t in trials) == pytest.approx(sorted(accuracies), abs=1e-4)
  assert sorted(t.user_attrs["trial"] for t in trials) == trial_dirs(tmp_path)
  # The best trial's configuration, as a command that trains it again.
  assert f"python -m finetune.train --model_dir=runs/{rows[0]['trial']}" in out
  assert "run_config.intra_op_threads" not in out.split("again:")[1]

  # The rest through the API (the command's output is checked above): the sweep's own
  # start-up is saved, its trials are processes all the same.
  search_in_process(*args, "--trials=2")  # the study holds 2: nothing runs
  assert len(study(tmp_path).get_trials()) == 2
  assert all(helpers.command_count(tmp_path / "trials" / d) == 1 for d in trial_dirs(tmp_path))
  search_in_process(*args, "--trials=3")  # one more
  assert len(study(tmp_path).get_trials()) == 3 and len(trial_dirs(tmp_path)) == 3
  assert all(helpers.command_count(tmp_path / "trials" / d) == 1 for d in trial_dirs(tmp_path))

  os.remove(tmp_path / "results.csv")
  from finetune import api  # pylint: disable=g-import-not-at-top
  api.collect(str(tmp_path))  # as `--collect` does
  assert len(helpers.sweep_results(tmp_path)) == 3
  with open(tmp_path / "results.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_median_pruner_stops_a_bad_trial_after_its_first_evaluation(tmp_path, modules):
  """The study is seeded (Optuna's enqueue_trial) with a good trial and then one that cannot
  learn (an untrained module at a rate of 1e-9): the pruner, trusting history after one
  trial, stops the second at its first evaluation, at step 20 of 60, with a checkpoint."""
  good = {"LEARNING_RATE": 0.05, "MODULE_HANDLE": modules["good"]}
  bad = {"LEARNING_RATE": 1e-9, "MODULE_HANDLE": modules["random"]}
  handles = [modules["good"], modules["random"]]
  seeded = optuna.create_study(
      storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
          str(tmp_path / "study.journal"))), study_name=tmp_path.name, direction="maximize")
  seeded.enqueue_trial(good)
  seeded.enqueue_trial(bad)
  search_in_process(*base(steps=60), f"--sweep_dir={tmp_path}", "--search=tpe", "--trials=2",
                    "--pruner=median", "--startup_trials=1",
                    "--space=LEARNING_RATE=loguniform(1e-9, 1e-1)",
                    f"--space=MODULE_HANDLE=choice({handles!r})")
  rows = {r["state"]: r for r in helpers.sweep_results(tmp_path)}
  assert set(rows) == {"done", "pruned"}
  assert rows["done"]["steps"] == "60" and float(rows["pruned"]["LEARNING_RATE"]) == 1e-9
  pruned_dir = tmp_path / "trials" / rows["pruned"]["trial"]
  assert helpers.checkpoint_step(pruned_dir) == 20 and rows["pruned"]["steps"] == "20"
  status = json.loads((pruned_dir / "status.json").read_text())
  assert status["state"] == "pruned" and status["evaluated_step"] == 20
  assert "Stopped by SIGTERM at step 20; the checkpoint is saved" in (
      (pruned_dir / "trial.log").read_text())
  first, second = study(tmp_path).get_trials()
  assert first.state == optuna.trial.TrialState.COMPLETE and set(first.intermediate_values) == {
      20, 40, 60}
  assert second.state == optuna.trial.TrialState.PRUNED
  assert list(second.intermediate_values) == [20]


def test_two_workers_share_one_grid_study_and_run_no_point_twice(tmp_path, modules):
  """Optuna's GridSampler over three rates, two processes of the same command at once."""
  args = base(steps=20) + [f"--sweep_dir={tmp_path}", "--search=grid", "--pruner=none",
                           f"--gin_bindings=MODULE_HANDLE = '{modules['good']}'",
                           "--grid=LEARNING_RATE=[0.01, 0.02, 0.03]"]
  workers = [
      subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for _ in range(2)
  ]
  for worker in workers:
    out, _ = worker.communicate(timeout=600)
    assert worker.returncode == 0, out
  complete = [t for t in study(tmp_path).get_trials()
              if t.state == optuna.trial.TrialState.COMPLETE]
  assert sorted(t.params["LEARNING_RATE"] for t in complete) == [0.01, 0.02, 0.03]
  assert len(trial_dirs(tmp_path)) == 3
  assert all(helpers.command_count(tmp_path / "trials" / d) == 1 for d in trial_dirs(tmp_path))


def test_a_killed_workers_trial_is_taken_over_and_resumed(tmp_path, modules):
  args = base(steps=40) + [f"--sweep_dir={tmp_path}", "--search=random", "--trials=1",
                           "--pruner=none", f"--gin_bindings=MODULE_HANDLE = '{modules['good']}'",
                           "--space=LEARNING_RATE=uniform(0.01, 0.03)"]
  with open(tmp_path / "first.log", "w") as out:
    first = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                             stdout=out, stderr=subprocess.STDOUT)
  try:
    checkpointed = lambda: any(
        os.path.exists(tmp_path / "trials" / d / "model.ckpt-20.index")
        for d in (trial_dirs(tmp_path) if (tmp_path / "trials").exists() else []))
    assert helpers.wait_for(checkpointed, timeout=240), (tmp_path / "first.log").read_text()
    (name,) = trial_dirs(tmp_path)
    # The killed worker's trial is still alive when the next worker starts: it is stopped
    # here, and goes on (to its stop with a checkpoint: its sweep is gone) once it is adopted.
    child = state.holder(str(tmp_path / "trials" / name))["pid"]
    os.kill(child, signal.SIGSTOP)
  finally:
    first.send_signal(signal.SIGKILL)  # no cleanup: the study still says "running"
    first.wait()
  assert study(tmp_path).get_trials()[0].state == optuna.trial.TrialState.RUNNING
  with open(tmp_path / "second.log", "w") as out:
    second = subprocess.Popen([sys.executable, "-m", "finetune.sweep", *args], cwd=helpers.REPO,
                              stdout=out, stderr=subprocess.STDOUT)
  try:
    waiting = lambda: f"waiting for {name}: pid {child}" in (tmp_path / "second.log").read_text()
    assert helpers.wait_for(waiting, timeout=240), (tmp_path / "second.log").read_text()
  finally:
    os.kill(child, signal.SIGCONT)
  assert second.wait(timeout=600) == 0, (tmp_path / "second.log").read_text()
  failed, retried = study(tmp_path).get_trials()
  assert failed.state == optuna.trial.TrialState.FAIL
  assert retried.state == optuna.trial.TrialState.COMPLETE and retried.params == failed.params
  assert retried.user_attrs["trial"] == name and trial_dirs(tmp_path) == [name]
  assert helpers.command_count(tmp_path / "trials" / name) == 2  # resumed in its own model_dir
  (row,) = helpers.sweep_results(tmp_path)
  assert row["state"] == "done" and row["steps"] == "40"


@pytest.mark.parametrize("text, message", [
    ("LEARNING_RATE=loguniform(0, 0.1)",
     "Search space 'LEARNING_RATE=loguniform(0, 0.1)' has loguniform low 0; a log scale needs "
     "low > 0; write LEARNING_RATE=loguniform(1e-4, 1e-1)"),
    ("LEARNING_RATE=normal(0.1, 1)",
     "uses normal(...), which is not a form; write LEARNING_RATE=loguniform(1e-4, 1e-1) or "
     "LEARNING_RATE=uniform(0.0, 0.5) or LEARNING_RATE=int(1, 8) or"),
    ("LEARNING_RATE=uniform(0.1, 0.01)", "has low 0.1 not below high 0.01"),
    ("STEPS=int(1.5, 8)", "gives int 1.5 and 8; both must be integers; write STEPS=int(1, 8)"),
    ("M=choice([])", "gives choice no list of values; write M=choice(['a', 'b'])"),
    ("M=choice(['a', x])", "has values that are not literals"),
    ("LEARNING_RATE=[0.1, 0.01]", "has '[0.1, 0.01]', which is not one of the forms"),
    ("LEARNING_RATE=uniform(0.1, 0.2", "which does not parse"),
])
def test_malformed_spaces_are_one_clear_error(text, message):
  with pytest.raises(FinetuneError) as raised:
    space_lib.parse_space(text)
  assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("args, message", [
    (["--search=tpe", "--trials=2", "--space=LEARNING_RATE=loguniform(1e-4)"],
     "Search space 'LEARNING_RATE=loguniform(1e-4)' gives loguniform 1 values; it takes two"),
    (["--search=tpe", "--trials=2"], "--search=tpe samples the --space ranges (none given)"),
    (["--search=tpe", "--space=LEARNING_RATE=uniform(0.01, 0.1)"],
     "--trials is the study's total number of trials: 1 or more, got None."),
    (["--search=grid", "--grid=LEARNING_RATE=[0.1, 0.01]", "--trials=3"],
     "--trials=3 is more than the grid's 2 points"),
    (["--search=random", "--trials=2", "--space=learning_rate_schedule.base_learnig_rate="
      "uniform(0.01, 0.1)"], "Trial with learning_rate_schedule.base_learnig_rate = 0.01 of "
     "the sweep cannot be configured"),
])
def test_bad_search_input_is_one_line_before_any_trial(tmp_path, capfd, args, message):
  """Each through the API, as the command calls it (one of them through the command itself,
  below): a FinetuneError, which the command prints as its one line with exit code 2."""
  from finetune.errors import UnexpectedError  # pylint: disable=g-import-not-at-top
  capfd.readouterr()
  with pytest.raises(FinetuneError) as raised:
    search_in_process("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}", *args)
  assert not isinstance(raised.value, UnexpectedError)  # the command's exit code 2, not 1
  assert getattr(raised.value, "exit_code", 2) == 2
  line = formatting.one_line(raised.value)  # what the command prints after "finetune: error: "
  assert line.startswith(message) and "\n" not in line, line
  assert capfd.readouterr().out == ""  # nothing printed on the way
  assert not (tmp_path / "trials").exists() and not (tmp_path / "study.journal").exists()


def test_bad_search_input_through_the_command_is_one_line_and_exit_code_2(tmp_path):
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
                             "--search=tpe", "--trials=2",
                             "--space=LEARNING_RATE=loguniform(1e-4)", check=False)
  assert result.returncode == 2 and result.stdout == "", result.stderr
  assert result.stderr.startswith(
      "finetune: error: Search space 'LEARNING_RATE=loguniform(1e-4)' gives loguniform 1 "
      "values; it takes two"), result.stderr
  assert len(result.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "trials").exists() and not (tmp_path / "study.journal").exists()


def test_without_optuna_a_search_says_how_to_install_it_and_a_grid_still_plans(
    tmp_path, monkeypatch):
  from finetune import api  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
  with pytest.raises(FinetuneError) as raised:
    api.search(["digits/finetune.gin"], str(tmp_path), ["LEARNING_RATE=uniform(0.01, 0.1)"],
               trials=2)
  assert "need Optuna, which is not installed: pip install 'finetune[search]'" in str(
      raised.value)
  commands = api.sweep(["digits/finetune.gin"], str(tmp_path), {"LEARNING_RATE": [0.01, 0.02]},
                       dry_run=True)
  assert len(commands) == 2 and not (tmp_path / "study.journal").exists()


def test_a_grid_point_taken_twice_at_once_is_yielded_by_the_later_trial():
  """Two workers asking at the same moment can get one grid point (Optuna's GridSampler reads
  the study, then picks): the later trial is failed as a duplicate and the worker asks again."""
  from finetune.trials import search as search_lib  # pylint: disable=g-import-not-at-top
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  settings = study_lib.SearchSettings(search="grid", space=[], grid=[("x", [1, 2])], trials=2)
  study = optuna.create_study(sampler=study_lib.sampler(settings))
  distributions = {"x": optuna.distributions.CategoricalDistribution([1, 2])}
  taken = study.ask(distributions).params["x"]  # another worker's trial, running
  study.enqueue_trial({"x": taken})  # what a simultaneous ask of this worker's would get
  trial, name = search_lib.Search(None, study, settings)._take()
  other = 3 - taken
  assert trial.params == {"x": other} and name == f"002-x={other}"
  states = [(t.params, t.state, t.user_attrs.get("duplicate")) for t in study.get_trials()]
  assert states[:2] == [({"x": taken}, optuna.trial.TrialState.RUNNING, None),
                        ({"x": taken}, optuna.trial.TrialState.FAIL, True)]
  study.tell(trial, 0.5)  # the used-up grid does not raise (no Study.stop outside optimize)


def test_storage_is_a_database_url_or_a_journal_path_and_remembers_its_search(tmp_path):
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  settings = study_lib.SearchSettings(search="random", space=space_lib.plan_space(
      ["LEARNING_RATE=uniform(0.01, 0.1)"]), grid=[], trials=2)
  url = f"sqlite:///{tmp_path / 'studies.db'}"
  made = study_lib.open_study(study_lib.open_storage(str(tmp_path), url), "s", settings)
  made.tell(made.ask(dict(settings.space)), 0.5)
  joined = study_lib.open_study(study_lib.open_storage(str(tmp_path), url), "s", settings)
  assert [t.value for t in joined.get_trials()] == [0.5] and (tmp_path / "studies.db").exists()
  journal = study_lib.open_storage(str(tmp_path), str(tmp_path / "shared" / "s.journal"))
  assert isinstance(journal, optuna.storages.JournalStorage)
  other = dataclasses.replace(settings, space=space_lib.plan_space(
      ["LEARNING_RATE=uniform(0.01, 0.2)"]))
  with pytest.raises(FinetuneError, match="was started with another space"):
    study_lib.open_study(study_lib.open_storage(str(tmp_path), url), "s", other)
  with pytest.raises(FinetuneError, match=f"the folder {tmp_path / 'missing'} does not exist"):
    study_lib.open_storage(str(tmp_path), f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


@pytest.mark.parametrize("args, message", [
    (["--trials=2", "--space=LEARNING_RATE=uniform(0.01, 0.1)"],
     "--space belongs to a search: add --search=tpe (or random)"),
    (["--search=random", "--trials=2", "--space=LEARNING_RATE=loguniform(1e-4, 1e400)"],
     "gives loguniform 0.0001 and inf; both must be finite numbers"),
])
def test_search_flags_out_of_place_are_one_line(tmp_path, args, message):
  result = helpers.run_sweep("--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}", *args,
                             check=False)
  assert result.returncode == 2 and result.stderr.startswith("finetune: error: "), result.stderr
  assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_storage_that_is_a_directory_unwritable_or_not_a_journal_is_one_line(tmp_path):
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  (tmp_path / "not_a_journal.txt").write_text("hello\n")
  for storage, message in ((str(tmp_path), "is a directory; the study is one journal file"),
                           ("/proc/nope.journal", "cannot be written"),
                           (str(tmp_path / "not_a_journal.txt"), "is not an Optuna journal")):
    with pytest.raises(FinetuneError, match=message):
      study_lib.open_storage(str(tmp_path), storage)
  assert (tmp_path / "not_a_journal.txt").read_text() == "hello\n"


def test_a_study_remembers_its_config_and_a_loss_is_minimized(tmp_path):
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  from finetune import sweep_plans  # pylint: disable=g-import-not-at-top
  space = space_lib.plan_space(["LEARNING_RATE=uniform(0.01, 0.1)"])
  settings = study_lib.SearchSettings(search="random", space=space, grid=[], trials=2,
                                      config=(["digits/finetune.gin"], ["BATCH_SIZE = 32"]))
  storage = study_lib.open_storage(str(tmp_path))
  study_lib.open_study(storage, "s", settings)
  other = dataclasses.replace(settings, config=(["digits/finetune.gin"], ["BATCH_SIZE = 8"]))
  with pytest.raises(FinetuneError, match="was started with another config"):
    study_lib.open_study(storage, "s", other)
  sweep_plans.fill_defaults(settings, ["digits/finetune.gin"], [], "average_loss", None, False)
  assert settings.metric == "average_loss" and settings.higher_is_better is False
  sweep_plans.fill_defaults(settings, ["digits/finetune.gin"], [], None, None, False)
  assert settings.metric == "accuracy" and settings.higher_is_better is True
