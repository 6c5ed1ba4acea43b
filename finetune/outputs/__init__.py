"""What a run leaves behind: hub and serving exports, metrics.json, predictions, the progress
line, the command record and the final summary."""
