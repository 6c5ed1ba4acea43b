"""Builds the default example's modules from the shipped digits data.

  python -m examples.digits.build_modules --output_dir=build/modules

writes two TF1 Hub format modules with the same architecture (see module.py):
  digits_pretrained/  trained to read digits 0-9 (data/pretrain.csv)
  digits_untrained/   random initialization: the "from scratch" baseline
configs/digits/*.gin fine-tune them to tell even from odd digits. Existing modules are kept (pass --force
to rebuild), so running the example twice does not redo this.
"""

import os
import shutil
import sys

from absl import app
from absl import flags

from examples.digits import dataset
from examples.digits import module as digits_module

FLAGS = flags.FLAGS


def build(output_dir, force=False):
  """Builds both modules under `output_dir`; returns their paths."""
  pixels, labels = dataset.read_csv("pretrain.csv", "label")
  paths = {}
  for name, steps in (("digits_pretrained", 1500), ("digits_untrained", 0)):
    path = os.path.join(output_dir, name)
    paths[name] = path
    if os.path.exists(os.path.join(path, "tfhub_module.pb")) and not force:
      print(f"{name}: exists at {path}")
      continue
    # Export beside the target, then swap it in: a module directory is whole or absent.
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    accuracy = digits_module.pretrain_and_export(tmp, pixels, labels, steps=steps)
    shutil.rmtree(path, ignore_errors=True)
    os.rename(tmp, path)
    print(f"{name}: exported to {path} (training accuracy reading digits: {accuracy:.3f})")
  return paths


def main(argv):
  del argv
  build(FLAGS.output_dir, FLAGS.force)


if __name__ == "__main__":
  # Flags live with the command, so that importing build() defines none.
  flags.DEFINE_string("output_dir", "build/modules", "Where the modules are written.")
  flags.DEFINE_bool("force", False, "Rebuild modules that already exist.")
  sys.exit(app.run(main))
