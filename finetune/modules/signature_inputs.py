"""Which data feature feeds which input of a module's signature: the input mapping, resolved
and checked against the data's features (names, dtypes, per-example shapes).

A module may be applied to several inputs (a sentence pair, two images): `hub_module.
input_mapping` is then a list of mappings, one per application, checked one by one.
"""

import tensorflow as tf

from finetune.errors import FinetuneError


def mappings(input_mapping):
  """The configured mapping(s) as a list of dicts, or None where inputs are matched by name."""
  if input_mapping is None:
    return None
  if isinstance(input_mapping, dict):
    return [dict(input_mapping)]
  result = [dict(m) for m in input_mapping]
  for i, mapping in enumerate(result):
    if mapping in result[:i]:
      raise FinetuneError(f"hub_module.input_mapping lists {mapping} twice: the module would "
                          "see the same features twice (with combine = 'pair', |u - v| is 0); "
                          "map each application to its own features.")
  if not result:
    raise FinetuneError("hub_module.input_mapping = [] applies the module to nothing; give one "
                        "{'<signature input>': '<feature>'}, or a list of them to apply the "
                        "module once per mapping.")
  return result


def resolve(inputs, signature, mapping, feature_specs):
  """{signature input: feature name}, checked for names, dtypes and shapes.

  Args:
    inputs: {input name: TensorInfo} of the signature.
    signature: the signature's name, for messages.
    mapping: one configured mapping, or None to match inputs and features by name.
    feature_specs: {feature name: tf.TensorSpec of one example}.
  """
  if mapping is None:
    if all(name in feature_specs for name in inputs):
      mapping = {name: name for name in inputs}
    elif len(inputs) == 1 and len(feature_specs) == 1:
      mapping = {next(iter(inputs)): next(iter(feature_specs))}
    else:
      raise FinetuneError(f"Cannot match the inputs of signature '{signature}' "
                          f"({', '.join(sorted(inputs))}) to the data's features "
                          f"({', '.join(sorted(feature_specs))}). Set hub_module.input_mapping = "
                          "{'<signature input>': '<feature>'}.")
  for input_name in inputs:
    if input_name not in mapping:
      raise FinetuneError(f"Signature '{signature}' input '{input_name}' is not in "
                          f"hub_module.input_mapping ({mapping}); map it to one of the features: "
                          f"{', '.join(sorted(feature_specs))}.")
  for input_name, feature in mapping.items():
    if input_name not in inputs:
      raise FinetuneError(
          f"hub_module.input_mapping names input '{input_name}', which signature "
          f"'{signature}' does not have; its inputs are: {', '.join(sorted(inputs))}.")
    if feature not in feature_specs:
      raise FinetuneError(
          f"hub_module.input_mapping maps '{input_name}' to feature '{feature}', which the "
          f"data does not have; its features are: {', '.join(sorted(feature_specs))}.")
    _check_compatible(input_name, inputs[input_name], feature, feature_specs[feature])
  return mapping


def _check_compatible(input_name, info, feature, spec):
  want, have = info.dtype, spec.dtype
  numeric = lambda d: d.is_floating or d.is_integer
  if want != have and not (numeric(want) and numeric(have)):
    raise FinetuneError(
        f"Feature '{feature}' is {have.name} but signature input '{input_name}' takes "
        f"{want.name}. Map a {want.name} feature to it, or declare the column's type in the "
        "data config.")
  want_shape = info.get_shape()[1:] if info.get_shape().rank else info.get_shape()
  if not want_shape.is_compatible_with(spec.shape):
    raise FinetuneError(
        f"Feature '{feature}' has per-example shape {spec.shape.as_list()} but signature "
        f"input '{input_name}' takes {want_shape.as_list()} (after the batch dimension).")


def cast(tensor, dtype):
  return tensor if tensor.dtype == dtype else tf.cast(tensor, dtype)
