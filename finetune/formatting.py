"""Small text helpers shared by the commands, the library and the sweeps (no TensorFlow)."""

import re


def to_text(value):
  """TensorFlow and the Estimator hand back paths as bytes or str; users want str."""
  return value.decode() if isinstance(value, bytes) else value


def format_duration(seconds):
  """`1h05m` or `3m07s`: how progress lines and sweeps show times."""
  seconds = int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def format_tags(tags):
  """A tag set as a user writes it in gin: `{"train"}` or `set()`."""
  return "{" + ", ".join(f'"{t}"' for t in sorted(tags)) + "}" if tags else "set()"


def handle_short_name(handle, default="module"):
  """The last path component of a module handle, without archive suffix or query, safe as a
  folder name: what exports and sweep trials are named after."""
  if not isinstance(handle, str) or not handle:
    return default
  tail = handle.rstrip("/").split("?")[0].rsplit("/", 1)[-1]
  tail = re.sub(r"\.(tar\.gz|tgz)$", "", tail)
  return "".join(c if c.isalnum() or c in "-_." else "_" for c in tail) or default


def printable(text):
  """`text` with its control and other invisible characters as escapes (a NUL as \\x00, a tab
  as \\t): a value from a user's data, echoed in a message, must not hide part of the message
  or act on the terminal."""
  text = str(text)
  if text.isprintable():
    return text
  return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(message):
  """A multi-line message (gin quotes the offending line on a line of its own) as one line:
  a quoted line of code goes in backticks, a location line gets a colon; what is left that
  a terminal would not show is escaped (`printable`)."""
  lines = str(message).splitlines()
  if len(lines) <= 1:
    return printable(str(message).strip())
  out = lines[0].strip()
  for line in lines[1:]:
    text = line.strip()
    if not text:
      continue
    if line[:1].isspace() and not text.startswith("In "):
      out = out.rstrip(".:") + f": `{text}`"
    else:
      out += " " + text
  return printable(out)
