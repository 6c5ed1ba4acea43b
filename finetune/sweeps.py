"""Hyperparameter sweeps: plan trials from grids, run them as processes, collect results.

A trial is one `python -m finetune.train` run with extra gin bindings and its own model_dir
under SWEEP_DIR/trials/<name>/, which also holds `trial.json` (its parameters and command)
and `status.json` (running, done or failed, wall time, the error). Everything the results
need lives in the trial directories, so results can be rebuilt from them alone (--collect),
from a local or gs:// sweep_dir, and a rerun skips finished trials and resumes the others
from their last checkpoint. Trials share the module cache (TFHUB_CACHE_DIR).
"""

import ast
import csv
import io
import itertools
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.hooks import format_duration
from finetune.summary import latest_module_export

log = logging.getLogger("finetune")
TRIALS = "trials"
DONE, FAILED, RUNNING = "done", "failed", "running"

# --- Planning --------------------------------------------------------------------------------


def parse_grid(text):
  """'PARAM=[v1, v2]' -> (PARAM, [v1, v2]). Values are Python/gin literals; a string that
  starts with @ or % is a gin reference or macro and is bound unquoted."""
  match = re.match(r"^\s*([\w./%]+)\s*=\s*(\[.*\])\s*$", text, re.S)
  if not match:
    raise FinetuneError(f"Grid '{text}' is not PARAM=[v1, v2, ...], e.g. "
                        "\"learning_rate_schedule.base_learning_rate=[0.01, 0.001]\".")
  try:
    values = ast.literal_eval(match.group(2))
  except (ValueError, SyntaxError) as e:
    raise FinetuneError(f"Grid values of '{match.group(1)}' are not a list of literals: "
                        f"{match.group(2)} ({e}). Quote strings; write references as "
                        "\"@name\".") from e
  if not values:
    raise FinetuneError(f"Grid '{match.group(1)}' has no values.")
  return match.group(1), list(values)


def read_sweep_file(path):
  """Grids from a JSON file ({"grid": {PARAM: [...]}, "zip": bool}) or a gin-style file of
  `PARAM = [v1, v2]` lines. Returns ([(param, values)], zip)."""
  with tf.io.gfile.GFile(path) as f:
    text = f.read()
  if path.endswith(".json"):
    spec = json.loads(text)
    return [(k, list(v)) for k, v in spec["grid"].items()], bool(spec.get("zip", False))
  lines = [l.split("#", 1)[0].strip() for l in text.splitlines()]
  return [parse_grid(l) for l in lines if l], False


def format_value(value):
  if isinstance(value, str) and value[:1] in ("@", "%"):
    return value
  return repr(value)


def short_value(param, value):
  """What a trial name shows of a value: a module handle's last path component."""
  text = str(value)
  if "handle" in param.lower() or "/" in text:
    text = text.rstrip("/").split("?")[0].rsplit("/", 1)[-1]
    text = re.sub(r"\.(tar\.gz|tgz)$", "", text)
    return text
  if text[:1] in ("@", "%"):  # a reference: its last name part, e.g. AdamOptimizer
    text = text.lstrip("@%").rstrip("()").rsplit(".", 1)[-1]
  return f"{param.rsplit('.', 1)[-1].split('/')[0]}={text}"


def plan(grids, zipped=False):
  """[(name, {param: value})] for the cross product of grids (or their zip)."""
  if not grids:
    raise FinetuneError("No grid: give --grid='PARAM=[v1, v2]' or --sweep_file.")
  params = [p for p, _ in grids]
  if zipped:
    lengths = {len(v) for _, v in grids}
    if len(lengths) != 1:
      raise FinetuneError(f"--zip needs grids of one length; got lengths "
                          f"{', '.join(f'{p}: {len(v)}' for p, v in grids)}.")
    combos = list(zip(*[v for _, v in grids]))
  else:
    combos = list(itertools.product(*[v for _, v in grids]))
  width = len(str(len(combos)))
  trials = []
  for i, combo in enumerate(combos):
    values = dict(zip(params, combo))
    label = "-".join(short_value(p, v) for p, v in values.items())
    label = re.sub(r"[^\w.=+-]+", "_", label)[:80]
    trials.append((f"{i:0{width}d}-{label}", values))
  return trials


def trial_command(gin_files, gin_bindings, values, model_dir, threads):
  """The command line that runs one trial."""
  command = [sys.executable, "-m", "finetune.train", f"--model_dir={model_dir}"]
  command += [f"--gin_file={f}" for f in gin_files]
  bindings = list(gin_bindings) + [f"{p} = {format_value(v)}" for p, v in values.items()]
  if threads:
    bindings += [f"run_config.intra_op_threads = {threads}", "run_config.inter_op_threads = 1"]
  return command + [f"--gin_bindings={b}" for b in bindings]


# --- Running ---------------------------------------------------------------------------------


def _read_json(path):
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _write_json(path, payload):
  with tf.io.gfile.GFile(path + ".tmp", "w") as f:
    json.dump(payload, f, indent=2, sort_keys=True)
  tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


class Sweep:
  """Runs the planned trials, `parallel` at a time, and keeps their state on disk."""

  def __init__(self, sweep_dir, gin_files, gin_bindings, trials, parallel=1, cores=None):
    self.sweep_dir = sweep_dir
    self.gin_files = list(gin_files)
    self.gin_bindings = list(gin_bindings)
    self.trials = trials
    self.parallel = max(1, parallel)
    cores = cores or os.cpu_count() or 1
    # N trials on N cores must not each start a thread pool per core.
    self.threads = max(1, cores // self.parallel) if self.parallel > 1 else 0

  def trial_dir(self, name):
    return os.path.join(self.sweep_dir, TRIALS, name)

  def command(self, name, values):
    return trial_command(self.gin_files, self.gin_bindings, values, self.trial_dir(name),
                         self.threads)

  def commands(self):
    return [self.command(name, values) for name, values in self.trials]

  def status(self, name):
    return (_read_json(os.path.join(self.trial_dir(name), "status.json")) or {}).get("state")

  def run(self):
    """Runs unfinished trials; returns {name: state}. A failed trial stops no other."""
    env = dict(os.environ)
    env.setdefault("TFHUB_CACHE_DIR", os.path.join(self.sweep_dir, "hub_cache"))
    pending = [(n, v) for n, v in self.trials if self.status(n) != DONE]
    skipped = len(self.trials) - len(pending)
    if skipped:
      log.info("%d of %d trials already done; running the other %d", skipped, len(self.trials),
               len(pending))
    running, states, durations = {}, {}, []
    try:
      while pending or running:
        while pending and len(running) < self.parallel:
          name, values = pending.pop(0)
          running[name] = self._start(name, values, env)
        time.sleep(0.2)
        for name, (proc, started, log_file) in list(running.items()):
          if proc.poll() is None:
            continue
          log_file.close()
          elapsed = time.time() - started
          durations.append(elapsed)
          states[name] = self._finish(name, proc.returncode, elapsed)
          del running[name]
          self._progress(states, len(running), len(pending), durations)
    finally:
      for proc, _, log_file in running.values():  # interrupted: stop children, keep state
        proc.terminate()
        proc.wait()
        log_file.close()
    return states

  def _start(self, name, values, env):
    trial_dir = self.trial_dir(name)
    tf.io.gfile.makedirs(trial_dir)
    command = self.command(name, values)
    _write_json(os.path.join(trial_dir, "trial.json"), {
        "name": name,
        "params": values,
        "command": shlex.join(command)
    })
    _write_json(os.path.join(trial_dir, "status.json"), {"state": RUNNING, "started": time.time()})
    log_file = open(os.path.join(trial_dir, "trial.log"), "a")
    log.info("start %s", name)
    proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    return proc, time.time(), log_file

  def _finish(self, name, returncode, elapsed):
    trial_dir = self.trial_dir(name)
    previous = _read_json(os.path.join(trial_dir, "status.json")) or {}
    status = {
        "state": DONE if returncode == 0 else FAILED,
        "returncode": returncode,
        "started": previous.get("started"),
        "wall_time_secs": round(elapsed + previous.get("wall_time_secs", 0.0), 2)
    }
    if returncode:
      status["error"] = _last_error(os.path.join(trial_dir, "trial.log"))
      log.info("FAILED %s: %s", name, status["error"])
    _write_json(os.path.join(trial_dir, "status.json"), status)
    return status["state"]

  def _progress(self, states, running, pending, durations):
    done = sum(s == DONE for s in states.values())
    failed = sum(s == FAILED for s in states.values())
    mean = sum(durations) / len(durations)
    eta = mean * (running + pending) / self.parallel
    log.info("trials: %d done, %d running, %d failed, %d waiting; eta %s", done, running, failed,
             pending, format_duration(eta))


def _last_error(log_path):
  with open(log_path) as f:
    lines = [l.strip() for l in f if l.strip()]
  errors = [l for l in lines if l.startswith("finetune: error:")]
  return (errors or lines or ["(no output)"])[-1]


# --- Results ---------------------------------------------------------------------------------


def collect(sweep_dir, metric="accuracy", higher_is_better=True):
  """One row per trial directory under SWEEP_DIR/trials, best first (failed trials last)."""
  root = os.path.join(sweep_dir, TRIALS)
  if not tf.io.gfile.isdir(root):
    raise FinetuneError(f"No trials under '{root}': run the sweep first.")
  rows = []
  for entry in sorted(tf.io.gfile.listdir(root)):
    trial_dir = os.path.join(root, entry.rstrip("/"))
    trial = _read_json(os.path.join(trial_dir, "trial.json"))
    if trial is None:
      continue
    status = _read_json(os.path.join(trial_dir, "status.json")) or {}
    metrics = _read_json(os.path.join(trial_dir, "metrics.json")) or {}
    export = latest_module_export(trial_dir, "hub")
    rows.append({
        "trial": trial["name"],
        "state": status.get("state", "unknown"),
        "params": trial["params"],
        "metrics": metrics,
        "steps": metrics.get("global_step"),
        "wall_time_secs": status.get("wall_time_secs"),
        "export": export,
        "error": status.get("error", "")
    })
  ranked = [r for r in rows if r["state"] == DONE and metric in r["metrics"]]
  ranked.sort(key=lambda r: r["metrics"][metric], reverse=higher_is_better)
  if rows and not ranked and any(r["state"] == DONE for r in rows):
    names = sorted({k for r in rows for k in r["metrics"]})
    raise FinetuneError(f"Metric '{metric}' is not in the trials' metrics; they have: "
                        f"{', '.join(names)}.")
  return ranked + [r for r in rows if r not in ranked]


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
  with tf.io.gfile.GFile(paths["md"], "w") as f:
    f.write("\n".join(lines) + "\n")
  png = plot(sweep_dir, rows, metric)
  if png:
    paths["png"] = png
  return paths, best


def plot(sweep_dir, rows, metric):
  """results.png: the metric per trial, when matplotlib is installed (an optional extra)."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  done = [r for r in rows if metric in r["metrics"]]
  if not done:
    return None
  figure, axes = pyplot.subplots(figsize=(8, 0.4 * len(done) + 1.5))
  axes.barh([r["trial"] for r in done][::-1], [r["metrics"][metric] for r in done][::-1])
  axes.set_xlabel(metric)
  figure.tight_layout()
  path = os.path.join(sweep_dir, "results.png")
  with tf.io.gfile.GFile(path, "wb") as f:
    figure.savefig(f, format="png")
  pyplot.close(figure)
  return path


def _fmt(value):
  return "" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
