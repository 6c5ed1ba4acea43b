"""Type and range checks of gin values, shared so that every parameter says the same thing."""

import math
import re

from finetune.errors import FinetuneError


INT32_MAX = 2**31 - 1  # TensorFlow keeps sizes, class counts and seeds in int32 tensors


def positive_int(value, name, allow_none=False):
  """Returns `value` if it is an int in [1, 2**31 - 1] (not a bool); else a FinetuneError
  naming `name`. Larger counts overflow int32 tensors, and no run takes that many of
  anything."""
  if value is None and allow_none:
    return value
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise FinetuneError(f"{name} must be a positive integer, got {value!r}.")
  if value > INT32_MAX:
    raise FinetuneError(f"{name} = {value} is beyond {INT32_MAX:,} (int32); give a smaller "
                        "number.")
  return value


def sequence(value, name, example):
  """Returns `value` as a list if it is a list or tuple (gin writes both); a string, a number
  or None is refused, since iterating it would mean something else (a string's letters)."""
  if not isinstance(value, (list, tuple)):
    raise FinetuneError(f"{name} must be a list, e.g. {name} = {example}, got {value!r}.")
  return list(value)


def regex(value, name):
  """Returns `value` compiled if it is a string that is a regular expression."""
  if not isinstance(value, str):
    raise FinetuneError(f"{name} must be a regular expression (a string), got {value!r}.")
  try:
    return re.compile(value)
  except re.error as e:
    raise FinetuneError(f"{name} = {value!r} is not a regular expression: {e}.") from None


def non_negative_number(value, name):
  """Returns `value` if it is an int or float >= 0 (not a bool)."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
    raise FinetuneError(f"{name} must be a number >= 0, got {value!r}.")
  if not math.isfinite(value):
    raise FinetuneError(f"{name} must be a finite number, got {value!r}.")
  return value


def positive_number(value, name):
  """Returns `value` if it is an int or float > 0 (not a bool)."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise FinetuneError(f"{name} must be > 0, got {value!r}.")
  if not math.isfinite(value):
    raise FinetuneError(f"{name} must be a finite number, got {value!r}.")
  return value


def folder_name(value, name):
  """Returns `value` if it is one folder name: it becomes part of a path, so no separator, no
  `..`, nothing absolute (an export_name of '../../x' wrote outside the model_dir)."""
  if (not isinstance(value, str) or not value.strip() or value in (".", "..") or
      "/" in value or "\\" in value or "\0" in value):
    raise FinetuneError(f"{name} = {value!r} must be one folder name (no '/', no '..'), "
                        "e.g. 'my_module'.")
  return value


def scope_name(value, name, example):
  """Returns `value` if TensorFlow takes it as a name scope of its own (a variable scope, an
  optimizer's name): letters, digits, '_', '.' and '-', no '/'."""
  if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.-]*", value):
    raise FinetuneError(f"{name} = {value!r} must be a scope name: letters, digits, '_', '.' "
                        f"and '-', e.g. '{example}'.")
  return value


def boolean(value, name, allow_none=False):
  """Returns `value` if it is True or False: gin passes a quoted 'no' through as a string,
  which Python would take as true."""
  if value is None and allow_none:
    return value
  if not isinstance(value, bool):
    raise FinetuneError(f"{name} must be True or False (unquoted), got {value!r}.")
  return value
