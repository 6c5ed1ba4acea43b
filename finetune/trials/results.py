"""A sweep's results, rebuilt from the trial directories alone (local or gs://; state.py reads
what a finished run leaves, so trials run from `--dry_run` lines count): ranked rows,
results.csv, results.md, TensorBoard's HParams dashboard (hparams.py) and, with matplotlib,
results.png."""

import ast
import csv
import io
import os
import shlex

import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError
from finetune.outputs.summary import latest_module_export
from finetune.trials import curves
from finetune.trials import hparams
from finetune.trials import plots
from finetune.trials import state
from finetune.trials.runner import TRIALS
from finetune.trials.state import DONE, PRUNED



def collect(sweep_dir, metric="accuracy", higher_is_better=True, planned=None):
  """One row per trial, best first (the rest after): every directory under SWEEP_DIR/trials
  and, given the sweep's plan ([(name, params)]), every planned trial, started or not. A
  directory needs no sweep files: a run from a `--dry_run` line is read from its model_dir."""
  root = os.path.join(sweep_dir, TRIALS)
  names = [e.rstrip("/") for e in tf.io.gfile.listdir(root)] if tf.io.gfile.isdir(root) else []
  params = dict(planned or ())
  if not names and not params:
    raise FinetuneError(f"No trials under '{root}': run the sweep (or its --dry_run lines) "
                        "first.")
  from_commands = {}
  rows = []
  for name in sorted(set(names) | set(params)):
    trial_dir = os.path.join(root, name)
    trial = files.read_json(os.path.join(trial_dir, "trial.json")) or {}
    values = params.get(name, trial.get("params"))
    if values is None:
      values = from_commands[name] = command_bindings(trial_dir)
      if values is None:
        continue  # not a trial's directory
    rows.append(_row(name, trial_dir, values))
  _keep_varying(rows, from_commands)
  ranked = [r for r in rows if r["state"] == DONE and metric in r["metrics"]]
  ranked.sort(key=lambda r: r["metrics"][metric], reverse=higher_is_better)
  pruned = [r for r in rows if r["state"] == PRUNED and metric in r["metrics"]]
  pruned.sort(key=lambda r: r["metrics"][metric], reverse=higher_is_better)
  if rows and not ranked and any(r["state"] == DONE for r in rows):
    names = sorted({k for r in rows for k in r["metrics"]})
    raise FinetuneError(f"Metric '{metric}' is not in the trials' metrics; they have: "
                        f"{', '.join(names)}.")
  return ranked + pruned + [r for r in rows if r not in ranked and r not in pruned]


def _row(name, trial_dir, values):
  status = files.read_json(os.path.join(trial_dir, "status.json")) or {}
  metrics = files.read_json(os.path.join(trial_dir, "metrics.json")) or {}
  trial_state = state.state(trial_dir, status)
  return {
      "trial": name,
      "state": trial_state,
      "params": values,
      "metrics": metrics,
      # A pruned trial's steps are those it trained (its checkpoint), past its last evaluation.
      "steps": status.get("step") if trial_state == PRUNED else metrics.get("global_step"),
      "wall_time_secs": status.get("wall_time_secs"),
      "export": latest_module_export(trial_dir, "hub") if trial_state == DONE else None,
      "error": status.get("error", "") if trial_state == state.FAILED else ""
  }


# What every trial's command line gets from the sweep (trials/grid.py), not from the grid.
SWEEP_THREAD_SETTINGS = ("run_config.intra_op_threads", "run_config.inter_op_threads")


def command_bindings(trial_dir):
  """{parameter: value} of the gin bindings on the first command line recorded in a
  model_dir (command_lines.txt), without the sweep's thread settings; None if none."""
  path = os.path.join(trial_dir, "command_lines.txt")
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    lines = f.read().splitlines()
  try:
    words = shlex.split(lines[0].split("  ", 1)[1]) if lines else []
  except (IndexError, ValueError):
    return None
  values = {}
  for word in words:
    binding = word.split("=", 1)[1] if word.startswith("--gin_bindings=") else ""
    param, _, value = binding.partition("=")
    if value and param.strip() not in SWEEP_THREAD_SETTINGS:
      values[param.strip()] = _literal(value.strip())
  return values


def best_command(sweep_dir, row):
  """The best trial's command, ready to train its configuration again into runs/<trial>:
  its config files and bindings, without the sweep's thread settings."""
  trial_dir = os.path.join(sweep_dir, TRIALS, row["trial"])
  line = (files.read_json(os.path.join(trial_dir, "trial.json")) or {}).get("command")
  path = os.path.join(trial_dir, "command_lines.txt")
  if not line and tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      line = (f.readline().split("  ", 1) + [""])[1].strip()
  try:
    words = shlex.split(line or "")
  except ValueError:
    return None
  if "finetune.train" not in words:
    return None
  kept = ["python"]
  for word in words[1:]:
    if word.startswith("--model_dir="):
      word = f"--model_dir=runs/{row['trial']}"
    binding = word.split("=", 1)[1] if word.startswith("--gin_bindings=") else ""
    if binding.partition("=")[0].strip() not in SWEEP_THREAD_SETTINGS:
      kept.append(word)
  return shlex.join(kept)


def _literal(text):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text  # a reference (@name) or macro (%NAME)


def _keep_varying(rows, from_commands):
  """Bindings read from command lines include those every trial shares: keep the swept ones
  (those whose values differ between trials)."""
  if len(from_commands) < 2:
    return
  keys = {k for values in from_commands.values() for k in values}
  same = {k for k in keys if len({repr(v.get(k)) for v in from_commands.values()}) == 1}
  for row in rows:
    if row["trial"] in from_commands:
      row["params"] = {k: v for k, v in row["params"].items() if k not in same}


def write_results(sweep_dir, rows, metric):
  """Writes results.csv, results.md and (with matplotlib) results.png; returns their paths."""
  params = list(dict.fromkeys(p for r in rows for p in r["params"]))
  metric_names = sorted({m for r in rows for m in r["metrics"] if m != "global_step"})
  header = ["rank", "trial", "state"
           ] + params + metric_names + ["steps", "wall_time_secs", "export", "error"]
  table = []
  for i, row in enumerate(rows):
    rank = i + 1 if row["state"] == DONE and metric in row["metrics"] else ""
    table.append(
        [rank, row["trial"], row["state"]] + [row["params"].get(p, "") for p in params] +
        [_fmt(row["metrics"].get(m)) for m in metric_names] +
        [row["steps"] or "", row["wall_time_secs"] or "", row["export"] or "", row["error"]])
  buffer = io.StringIO()
  writer = csv.writer(buffer)
  writer.writerow(header)
  writer.writerows(table)
  paths = {
      "csv": os.path.join(sweep_dir, "results.csv"),
      "md": os.path.join(sweep_dir, "results.md")
  }
  with tf.io.gfile.GFile(paths["csv"], "w") as f:
    f.write(buffer.getvalue())
  best = next((r for r in rows if r["state"] == DONE and metric in r["metrics"]), None)
  # The Markdown table keeps to what a reader compares; results.csv has every metric.
  shown = [h for h in header if h not in metric_names or h == metric]
  index = [header.index(h) for h in shown]
  lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
  lines += [
      "| " + " | ".join(str(row[i]).replace("|", "\\|") for i in index) + " |" for row in table
  ]
  lines.append("")
  lines.append(f"Best trial by {metric}: {best['trial']} ({metric} = "
               f"{best['metrics'][metric]:.4f}), exported module: {best['export']}"
               if best else f"No finished trial has {metric}.")
  command = best_command(sweep_dir, best) if best else None
  if command:
    lines += ["", "Train the best trial's configuration again:", "", "    " + command]
  with tf.io.gfile.GFile(paths["md"], "w") as f:
    f.write("\n".join(lines) + "\n")
  png = plot(sweep_dir, rows, metric)
  if png:
    paths["png"] = png
  paths["tensorboard"] = hparams.write(sweep_dir, rows)
  return paths, best


def plot(sweep_dir, rows, metric):
  """results.png (plots.py), with each trial's evaluation curve (curves.py)."""
  root = os.path.join(sweep_dir, TRIALS)
  found = {r["trial"]: curves.eval_curve(os.path.join(root, r["trial"]), metric) for r in rows
           if metric in r["metrics"]}
  return plots.plot(sweep_dir, rows, metric, found)


def _fmt(value):
  return "" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
