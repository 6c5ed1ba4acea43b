"""What a module offers, for choosing a signature and writing a config before training.

`describe(handle)` instantiates the module once per graph variant (tag set) in a scratch graph
and reports each signature's inputs and outputs, the variables, whether the variant brings
regularization losses and batch-norm update ops into the training graph, the expected image
size where the module declares one, and a gin snippet that uses it. A TF2 SavedModel has one
graph: its `__call__` input spec (as the signature "default") and serving signatures, its
variables (trainable ones counted apart), its `regularization_losses`; read from the
SavedModel loaded in a scratch graph, nothing run.
"""

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from finetune.formatting import format_tags
from finetune.modules import graph_scan
from finetune.modules.handles import load_spec
from finetune.modules.hub_module import TRAIN_TAG
from finetune.modules import tf2_module
from finetune.modules import tokenization_info
from finetune.modules.tokenization_info import TOKENS_INPUTS


def _tensor_info(info):
  shape = info.get_shape()
  return {
      "dtype": info.dtype.name,
      "shape": None if shape.rank is None else [d for d in shape.as_list()],
      "sparse": bool(info.is_sparse)
  }


def _placeholder(info):
  if info.is_sparse:
    return tf.compat.v1.sparse_placeholder(info.dtype, info.get_shape())
  return tf.compat.v1.placeholder(info.dtype, info.get_shape())


def _image_info(spec, signature):
  try:
    height, width = hub.get_expected_image_size(spec, signature=signature)
    return {
        "height": height,
        "width": width,
        "channels": hub.get_num_image_channels(spec, signature=signature)
    }
  except (ValueError, KeyError):
    return None


def _describe_variant(spec, tags):
  with tf.Graph().as_default():
    module = hub.Module(spec, tags=tags, trainable=True)
    signatures = {}
    for name in sorted(spec.get_signature_names(tags=tags)):
      inputs = spec.get_input_info_dict(name, tags)
      outputs = spec.get_output_info_dict(name, tags)
      module({k: _placeholder(v) for k, v in inputs.items()}, signature=name, as_dict=True)
      signatures[name] = {
          "inputs": {
              k: _tensor_info(v) for k, v in sorted(inputs.items())
          },
          "outputs": {
              k: _tensor_info(v) for k, v in sorted(outputs.items())
          },
          "image": _image_info(spec, name) if TRAIN_TAG not in tags else None,
      }
    return {
        "tags": sorted(tags),
        "signatures": signatures,
        "variables": len(module.variables),
        "parameters": int(sum(np.prod(v.shape.as_list()) for v in module.variables)),
        "regularization_losses": len(tf.compat.v1.losses.get_regularization_losses()),
        "update_ops": len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)),
    }


def _describe_tf2(spec):
  """The one graph of a TF2 SavedModel, in the shape of a TF1 variant's description."""
  signatures = {}
  for name, signature in spec.signatures.items():
    signatures[name] = {kind: {k: _tensor_info(v) for k, v in sorted(signature[kind].items())}
                        for kind in ("inputs", "outputs")}
    signatures[name].update(image=None, call=signature["call"])
  return {
      "tags": [],
      "signatures": signatures,
      "variables": len(spec.variables),
      "trainable_variables": sum(1 for _, _, trainable in spec.variables if trainable),
      "parameters": int(sum(np.prod(shape) for _, shape, _ in spec.variables)),
      "regularization_losses": spec.regularization_losses,
      "update_ops": 0,  # batch-norm statistics update inside __call__(training=True)
      "training_argument": spec.takes_training,
  }


def describe(handle):
  """Returns a JSON-ready description of the module at `handle` (resolved and cached),
  including the operations of each variant that are not on the allow-list of pure computation
  (found by reading the graph; the module is described, not run)."""
  spec = load_spec(handle)
  findings = graph_scan.scan(hub.resolve(handle))
  tf2 = isinstance(spec, tf2_module.TF2Spec)
  variants = [_describe_tf2(spec)] if tf2 else [
      _describe_variant(spec, set(tags))
      for tags in sorted(spec.get_tags(), key=lambda t: sorted(t))
  ]
  for variant in variants:
    variant["outside_ops"] = [{
        "op": f.op,
        "node": f.node,
        "signatures": list(f.signatures),
        "why": f.why
    } for f in findings if tf2 or list(f.tags) == variant["tags"]]  # TF2: one graph
  rows = tokenization_info.position_rows(spec, hub.resolve(handle))
  snippet = gin_snippet(handle, variants, tokenization_info.suggested_length(rows))
  if tf2:
    snippet = "\n".join(line for line in snippet.splitlines() if "_tags" not in line)
    snippet += "\n# TF2 SavedModel: one graph; training=True is passed to __call__ in TRAIN mode"
  return {
      "handle": handle,
      "format": "TF2 SavedModel" if tf2 else "TF1 Hub format",
      "resolved_path": hub.resolve(handle),
      "variants": variants,
      "gin": snippet
  }


def _bert_snippet(handle, described, max_seq_length):
  """A BERT-family module: raw text through the module's own tokenizer."""
  output = "pooled_output" if "pooled_output" in described["outputs"] else next(
      iter(described["outputs"]))
  return "\n".join([
      f'hub_module.handle = "{handle}"', 'hub_module.signature = "tokens"',
      f'hub_module.output_key = "{output}"',
      "csv_data.column_types = {\"text\": \"string\"}",
      "csv_data.tokenization = @bert_tokenization()  # the module's vocabulary, in the graph",
      'bert_tokenization.text_columns = ["text"]    # two columns for sentence pairs',
      f"bert_tokenization.max_seq_length = {max_seq_length}",
      "# sequence_output [batch, positions, H]: hub_module.pooling = \"mean\" (or first, max),",
      "# or one tag per word with experiment.head = @token_tagging_head()",
  ])


def gin_snippet(handle, variants, max_seq_length=tokenization_info.DEFAULT_MAX_SEQ_LENGTH):
  """A starting config: the default signature (or the first), its first output and inputs;
  for a BERT-family module, its tokens signature and tokenizer (with a `max_seq_length` its
  position table takes)."""
  serving = next((v for v in variants if not v["tags"]), variants[0])
  names = list(serving["signatures"])
  if "tokens" in names and set(TOKENS_INPUTS) <= set(serving["signatures"]["tokens"]["inputs"]):
    return _bert_snippet(handle, serving["signatures"]["tokens"], max_seq_length)
  signature = "default" if "default" in names else names[0]
  described = serving["signatures"][signature]
  output = "default" if "default" in described["outputs"] else next(iter(described["outputs"]))
  has_train = any(v["tags"] == [TRAIN_TAG] for v in variants)
  mapping = ", ".join(f'"{k}": "{k}"' for k in described["inputs"])
  lines = [
      f'hub_module.handle = "{handle}"', f'hub_module.signature = "{signature}"',
      f'hub_module.output_key = "{output}"',
      f"hub_module.input_mapping = {{{mapping}}}  # signature input -> data feature",
      f"hub_module.train_tags = {['train'] if has_train else []}", "hub_module.serving_tags = []"
  ]
  if described.get("image"):
    image = described["image"]
    lines.append(f"# images: [batch, {image['height']}, {image['width']}, {image['channels']}] "
                 "float32 in [0, 1]")
  return "\n".join(lines)


def _variant_header(variant):
  if "trainable_variables" in variant:  # a TF2 SavedModel
    return (f"\nOne graph (TF2 SavedModel): {variant['variables']} variables "
            f"({variant['trainable_variables']} trainable), {variant['parameters']:,} "
            f"parameters, {variant['regularization_losses']} regularization losses; batch norm "
            "updates inside the call")
  return (f"\nGraph variant tags={format_tags(variant['tags'])}: {variant['variables']} "
          f"variables, {variant['parameters']:,} parameters, "
          f"{variant['regularization_losses']} regularization losses, "
          f"{variant['update_ops']} update ops (batch norm)")


def format_text(description):
  """The human-readable report `python -m finetune.inspect` prints."""
  out = [f"Module {description['handle']} ({description['format']})",
         f"  resolved to {description['resolved_path']}"]
  for variant in description["variants"]:
    out.append(_variant_header(variant))
    for name, signature in variant["signatures"].items():
      call = ""
      if signature.get("call"):
        call = (" (__call__; training=True in TRAIN mode)" if variant["training_argument"] else
                " (__call__, without a training argument)")
      out.append(f"  signature '{name}'{call}")
      for kind in ("inputs", "outputs"):
        for key, info in signature[kind].items():
          shape = "?" if info["shape"] is None else str(
              [d if d is not None else None for d in info["shape"]]).replace("None", "?")
          sparse = " (sparse)" if info["sparse"] else ""
          out.append(f"    {kind[:-1]:<6} {key:<16} {info['dtype']:<8} {shape}{sparse}")
      if signature.get("image"):
        image = signature["image"]
        out.append(f"    expects images of {image['height']}x{image['width']} with "
                   f"{image['channels']} channels")
    outside = variant.get("outside_ops", [])
    out.append(f"  operations outside the allow-list: {len(outside) or 'none'}")
    for found in outside:
      where = ", ".join(found["signatures"]) or "no signature"
      out.append(f"    {found['op']} (node '{found['node']}', {where}): it {found['why']}")
  out += ["", "Gin snippet:", description["gin"]]
  return "\n".join(out)
