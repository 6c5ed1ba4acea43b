"""How long does the safety scan of a module's graph take? (It runs before every use.)

  .venv/bin/python bench/graph_scan.py [MODULE_DIR ...]

Default: every module under build/ (make example and the examples' build scripts put them
there). Prints each module's saved_model.pb size, node count and scan time (best of 5).
"""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from finetune import logs  # noqa: E402

logs.quiet_tensorflow_before_import(False)

from finetune.modules import graph_scan  # noqa: E402


def main(paths):
  paths = paths or sorted(os.path.dirname(p) for p in glob.glob("build/**/tfhub_module.pb",
                                                                 recursive=True))
  print("| module | saved_model.pb | scan, best of 5 |\n|---|---|---|")
  for path in paths:
    times = []
    for _ in range(5):
      start = time.perf_counter()
      findings = graph_scan.scan(path)
      times.append(time.perf_counter() - start)
    size = os.path.getsize(os.path.join(path, "saved_model.pb"))
    print(f"| {path} | {size / 1e3:,.0f} kB | {min(times) * 1e3:.1f} ms "
          f"({len(findings)} findings) |")


if __name__ == "__main__":
  if any(a.startswith("-") for a in sys.argv[1:]):
    sys.exit(__doc__)
  main(sys.argv[1:])
