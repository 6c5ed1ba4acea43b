"""Hyperparameter sweeps: planning grids into trials, running trials as processes, and
collecting their results (CSV, Markdown, PNG) from the trial directories alone."""
