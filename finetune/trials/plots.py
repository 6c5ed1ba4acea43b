"""results.png: the question a sweep asks, drawn from its rows.

One panel per swept parameter: the metric against the parameter's values (a log axis for a
rate, or a positive range of a decade or more), one colour per module handle;
and one panel of every trial's evaluation curve, where pruned trials (dashed, ending in x)
visibly stop early. Axes fit the data, so 0.876 and 0.899 look different. Drawn on a Figure
with its own Agg canvas (no pyplot: a notebook's backend is left alone), only when
matplotlib is installed (an optional extra).
"""

import os

import tensorflow as tf

from finetune.formatting import handle_short_name
from finetune.trials.state import PRUNED


def _handle_param(params, rows):
  """The swept parameter that names modules (a handle, or values that are paths), if any."""
  for param in params:
    values = [r["params"].get(param) for r in rows]
    if "handle" in param.lower() or all(isinstance(v, str) and "/" in v for v in values):
      return param
  return None


def _numeric(values):
  return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _log_scale(param, values):
  """Rates (by name) and positive ranges of a decade or more are read on a log axis."""
  if not _numeric(values) or min(values) <= 0:
    return False
  return "rate" in param.lower() or max(values) >= 10 * min(values)


def _colours(rows, handle_param):
  """{row's trial: colour}, one colour per module handle."""
  handles = sorted({str(r["params"].get(handle_param)) for r in rows}) if handle_param else []
  palette = [f"C{i % 10}" for i in range(len(handles))]
  by_handle = dict(zip(handles, palette))
  return {r["trial"]: by_handle.get(str(r["params"].get(handle_param)), "C0") for r in rows}, \
      {handle_short_name(h): c for h, c in by_handle.items()}


def _scatter(axes, rows, param, metric, colours):
  values = [r["params"].get(param) for r in rows]
  if _numeric(values):
    positions = values
  else:  # choices: one column each, in the order first seen
    labels = list(dict.fromkeys(str(v) for v in values))
    positions = [labels.index(str(v)) for v in values]
    axes.set_xticks(range(len(labels)))
    axes.set_xticklabels([handle_short_name(l) if "/" in l else l for l in labels],
                         rotation=20)
  for row, x in zip(rows, positions):
    axes.scatter([x], [row["metrics"][metric]], color=colours[row["trial"]],
                 marker="x" if row["state"] == PRUNED else "o")
  if _log_scale(param, values):
    axes.set_xscale("log")
    # pylint: disable-next=g-import-not-at-top
    from matplotlib import ticker
    # Labels at 1, 2 and 5 of each decade, as plain numbers: the default labels every minor
    # tick of a range under a decade, and they overlap.
    axes.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
  axes.set_xlabel(param)
  axes.set_ylabel(metric)
  axes.margins(0.1)


def _curves(axes, rows, metric, colours, curves):
  for row in rows:
    points = curves.get(row["trial"]) or []
    if not points:
      continue
    steps, values = zip(*points)
    pruned = row["state"] == PRUNED
    axes.plot(steps, values, color=colours[row["trial"]], linestyle="--" if pruned else "-",
              marker=".", alpha=0.8)
    if pruned:
      axes.plot([steps[-1]], [values[-1]], color=colours[row["trial"]], marker="x",
                markersize=9)
  axes.set_xlabel("step")
  axes.set_ylabel(f"{metric} (eval)")
  axes.set_title("evaluations (pruned: dashed, x)")
  axes.margins(0.05)


def plot(sweep_dir, rows, metric, curves):
  """Writes SWEEP_DIR/results.png; returns its path, or None (no matplotlib, no metric).

  Args:
    rows: the result rows (results.collect).
    curves: {trial: [(step, value)]}, each trial's evaluations (curves.eval_curve).
  """
  try:
    # pylint: disable-next=g-import-not-at-top
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
    from matplotlib.lines import Line2D  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  shown = [r for r in rows if metric in r["metrics"]]
  if not shown:
    return None
  params = list(dict.fromkeys(p for r in shown for p in r["params"]))
  handle_param = _handle_param(params, shown)
  swept = [p for p in params if p != handle_param] or params
  colours, legend = _colours(shown, handle_param)
  figure = Figure(figsize=(4.5 * (len(swept) + 1), 4))
  FigureCanvasAgg(figure)
  panels = figure.subplots(1, len(swept) + 1, squeeze=False)[0]
  for axes, param in zip(panels, swept):
    _scatter(axes, shown, param, metric, colours)
  _curves(panels[-1], shown, metric, colours, curves)
  if legend and len(legend) > 1 or handle_param and handle_param not in swept:
    panels[0].legend([Line2D([], [], color=c, marker="o", linestyle="") for c in legend.values()],
                     list(legend), title=handle_param, fontsize="small")
  figure.tight_layout()
  path = os.path.join(sweep_dir, "results.png")
  with tf.io.gfile.GFile(path, "wb") as f:
    figure.savefig(f, format="png")
  return path
