"""A sweep's results, rebuilt from the trial directories alone (local or gs://): ranked rows,
results.csv, results.md, TensorBoard's HParams dashboard (hparams.py) and, with matplotlib,
results.png."""

import csv
import io
import os

import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError
from finetune.outputs.summary import latest_module_export
from finetune.trials import hparams
from finetune.trials.runner import DONE, TRIALS



def collect(sweep_dir, metric="accuracy", higher_is_better=True):
  """One row per trial directory under SWEEP_DIR/trials, best first (failed trials last)."""
  root = os.path.join(sweep_dir, TRIALS)
  if not tf.io.gfile.isdir(root):
    raise FinetuneError(f"No trials under '{root}': run the sweep first.")
  rows = []
  for entry in sorted(tf.io.gfile.listdir(root)):
    trial_dir = os.path.join(root, entry.rstrip("/"))
    trial = files.read_json(os.path.join(trial_dir, "trial.json"))
    if trial is None:
      continue
    status = files.read_json(os.path.join(trial_dir, "status.json")) or {}
    metrics = files.read_json(os.path.join(trial_dir, "metrics.json")) or {}
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
  paths["tensorboard"] = hparams.write(sweep_dir, rows)
  return paths, best


def plot(sweep_dir, rows, metric):
  """results.png: the metric per trial, when matplotlib is installed (an optional extra)."""
  try:
    # A Figure with its own Agg canvas: no pyplot, so a notebook's backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
    from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  done = [r for r in rows if metric in r["metrics"]]
  if not done:
    return None
  figure = Figure(figsize=(8, 0.4 * len(done) + 1.5))
  FigureCanvasAgg(figure)
  axes = figure.subplots()
  axes.barh([r["trial"] for r in done][::-1], [r["metrics"][metric] for r in done][::-1])
  axes.set_xlabel(metric)
  figure.tight_layout()
  path = os.path.join(sweep_dir, "results.png")
  with tf.io.gfile.GFile(path, "wb") as f:
    figure.savefig(f, format="png")
  return path


def _fmt(value):
  return "" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
