"""The Markdown table the examples' compare scripts print: eval accuracy per setting over
seeds (mean, min, max)."""

import statistics


def markdown(results):
  """results: [(setting, [accuracy per seed])] -> a Markdown table."""
  lines = ["| setting | eval accuracy (mean) | min | max |", "|---|---|---|---|"]
  for label, accuracies in results:
    lines.append(f"| {label} | {statistics.mean(accuracies):.3f} | {min(accuracies):.3f} | "
                 f"{max(accuracies):.3f} |")
  return "\n".join(lines)
