"""The command: what does this module offer? Prints every graph variant and signature.

  python -m finetune.inspect HANDLE [--format=text|json]
"""

import json
import sys

from finetune import command
from finetune import logs

logs.quiet_tensorflow_before_import("--verbose" in sys.argv)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_enum("format", "text", ["text", "json"], "Output format (json for scripts).")
flags.DEFINE_bool("verbose", False, "Show TensorFlow's logs and full tracebacks.")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("Usage: python -m finetune.inspect HANDLE [--format=text|json]")
  # A signal while downloading or loading the graph: one line, 143/130.
  return command.run(lambda: _inspect(argv[1]), FLAGS.verbose)


def _inspect(handle):
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune.modules import inspection  # pylint: disable=g-import-not-at-top
  description = api.inspect(handle, verbose=FLAGS.verbose)
  if FLAGS.format == "json":
    print(json.dumps(description, indent=2))
  else:
    print(inspection.format_text(description))
  return 0


def run():
  """Console-script entry point (`finetune-inspect`)."""
  app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
  run()
