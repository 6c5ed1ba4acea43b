"""Looking at a module's graph before running it: every operation that is not known to be pure
computation.

A TF1 Hub module is a graph, and fine-tuning runs it. Before a module is instantiated,
`scan` reads its saved_model.pb (every graph variant, every function in its library, nothing
executed) and reports each op whose type is not on the allow-list (modules/op_allow_list.py):
file reads and writes, datasets, readers, samplers with a file argument, summary writers,
Python callbacks, ops of other devices or machines, and any op nobody reviewed. Reading the
module's own assets (a vocabulary table's file) is normal and not reported; a module's
variables are restored by hub, not by its graph. A TF2 SavedModel is scanned the same way (its
saved_model.pb is a MetaGraphDef whose function library holds its tf.functions); the save and
restore functions its saver_def names are its own checkpointing, which tf.saved_model writes
into every SavedModel, and are not reported.
What the scan cannot see: a module that computes wrong answers with ordinary ops.
"""

import dataclasses

from tensorflow.core.protobuf import meta_graph_pb2

from finetune.errors import FinetuneError
from finetune.formatting import format_tags
from finetune.modules import graph_ops
from finetune.modules import op_allow_list

FILE_READS = op_allow_list.ASSET_READS


@dataclasses.dataclass(frozen=True)
class Finding:
  """One operation that touches the outside, where it is, and why it matters."""
  tags: tuple
  signatures: tuple
  op: str
  node: str
  why: str

  def describe(self):
    where = (f"signature{'s' if len(self.signatures) > 1 else ''} "
             f"{', '.join(repr(s) for s in self.signatures)}"
             if self.signatures else "no signature (not reached by the module's outputs)")
    return (f"{self.op} (node '{self.node}') in {where} of graph variant "
            f"{format_tags(self.tags)}: it {self.why}")


def _name(input_name):
  return input_name.lstrip("^").split(":")[0]


def _reached(graph, outputs):
  """Names of the nodes the output tensors depend on (data and control inputs)."""
  nodes = {n.name: n for n in graph.node}
  seen, todo = set(), [_name(o) for o in outputs]
  while todo:
    name = todo.pop()
    if name in seen or name not in nodes:
      continue
    seen.add(name)
    todo.extend(_name(i) for i in nodes[name].input)
  return seen


def _called_functions(node, functions):
  called = {node.op} & set(functions)
  for value in node.attr.values():
    if value.HasField("func"):
      called.add(value.func.name)
    called.update(f.name for f in value.list.func)
  return called


def _asset_nodes(meta_graph):
  """Nodes that hold the path of one of the module's assets: TF1's saved_model_assets, TF2's
  asset_file_def, and what carries them on (Identity, a variable assigned from one and its
  reads: how a TF2 SavedModel hands the path to its initializer function)."""
  assets = {_name(a.tensor_info.name) for a in meta_graph.asset_file_def}
  if "saved_model_assets" in meta_graph.collection_def:
    for any_proto in meta_graph.collection_def["saved_model_assets"].any_list.value:
      asset = meta_graph_pb2.AssetFileDef()
      any_proto.Unpack(asset)
      assets.add(_name(asset.tensor_info.name))
  nodes = meta_graph.graph_def.node
  while True:
    carried = {n.name for n in nodes if n.op in ("Identity", "ReadVariableOp") and n.input and
               _name(n.input[0]) in assets}
    carried |= {_name(n.input[0]) for n in nodes if n.op == "AssignVariableOp" and
                len(n.input) > 1 and _name(n.input[1]) in assets}
    if carried <= assets:
      return assets
    assets |= carried


def _asset_arguments(graph, functions, assets):
  """{function name: indices of its arguments that every caller fills with an asset path}."""
  positions = {}
  for node in graph.node:
    callee = node.attr["f"].func.name if "f" in node.attr else None
    if callee not in functions:
      continue
    data = [_name(i) for i in node.input if not i.startswith("^")]
    given = {i for i, name in enumerate(data) if name in assets}
    positions[callee] = positions.get(callee, given) & given
  return positions


def _reads_own_asset_argument(node, function, asset_positions):
  """A file read inside a TF2 function whose file name is an argument that every caller
  fills with one of the module's assets."""
  if node.op not in FILE_READS:
    return False
  name = _name(node.input[1] if node.op.startswith("InitializeTable") else node.input[0])
  arguments = [a.name for a in function.signature.input_arg]
  return name in arguments and arguments.index(name) in asset_positions.get(
      function.signature.name, set())


def _reads_own_asset(node, nodes, assets):
  """A file read whose file name is one of the module's assets (through Identity ops)."""
  if node.op not in FILE_READS:
    return False
  name = _name(node.input[1] if node.op.startswith("InitializeTable") else node.input[0])
  while name in nodes and nodes[name].op == "Identity" and name not in assets:
    name = _name(nodes[name].input[0])
  return name in assets


def _writes_to_a_file(node):
  """PrintV2 to "file://...", or proto ops reading descriptors from a file."""
  if node.op == "PrintV2":
    return node.attr["output_stream"].s.decode().startswith("file://")
  if node.op in ("DecodeProtoV2", "EncodeProto"):
    source = node.attr["descriptor_source"].s.decode()
    return source not in ("", "local://")
  return False


def _why(op, functions, node=None):
  """None for an op on the allow-list (or a call of one of the graph's own functions, whose
  bodies are scanned too); otherwise why it matters."""
  if node is not None and _writes_to_a_file(node):
    return "writes to a file"
  if op in functions or op in op_allow_list.ALLOWED:
    return None
  return op_allow_list.reason(op)


def _saver_functions(meta_graph, nodes, functions):
  """Functions that the saver_def's save and restore nodes call, transitively (TF2 only: a TF1
  Hub module's graph holds no saver)."""
  saver = meta_graph.saver_def
  todo = [nodes[n] for n in (_name(saver.save_tensor_name), _name(saver.restore_op_name))
          if n in nodes]
  found = set()
  while todo:
    for called in _called_functions(todo.pop(), functions) - found:
      found.add(called)
      todo.extend(functions[called].node_def if called in functions else [])
  return found


def _scan_meta_graph(meta_graph):
  graph = meta_graph.graph_def
  tags = tuple(sorted(meta_graph.meta_info_def.tags))
  nodes = {n.name: n for n in graph.node}
  functions = {f.signature.name: f for f in graph.library.function}
  assets = _asset_nodes(meta_graph)
  reach = {}
  for name, signature in meta_graph.signature_def.items():
    reached = _reached(graph, [t.name for t in signature.outputs.values()])
    called = set().union(*[_called_functions(nodes[n], functions) for n in reached])
    reach[name] = (reached, called)
  findings = []
  for node in graph.node:
    why = _why(node.op, functions, node)
    if why and not _reads_own_asset(node, nodes, assets):
      signatures = tuple(sorted(s for s, (reached, _) in reach.items() if node.name in reached))
      findings.append(Finding(tags, signatures, node.op, node.name, why))
  own_saver = _saver_functions(meta_graph, nodes, functions)
  asset_positions = _asset_arguments(graph, functions, assets)
  for fname, function in functions.items():
    if fname in own_saver:
      continue
    for node in function.node_def:
      why = _why(node.op, functions, node)
      if why and not _reads_own_asset_argument(node, function, asset_positions):
        signatures = tuple(sorted(s for s, (_, called) in reach.items() if fname in called))
        findings.append(Finding(tags, signatures, node.op, f"{fname}/{node.name}", why))
  return findings


def scan(module_dir):
  """[Finding] for every graph variant of the module (TF1 Hub or TF2) in `module_dir`."""
  saved_model = graph_ops.read_saved_model(module_dir)
  return [f for meta_graph in saved_model.meta_graphs for f in _scan_meta_graph(meta_graph)]


def check(handle, findings, allowed_ops=(), trusted=False):
  """Refuses a module with findings, unless its ops are allowed or the module is trusted."""
  if trusted:
    return
  refused = [f for f in findings if f.op not in set(allowed_ops)]
  if refused:
    first = refused[0]
    more = (f" (and {len(refused) - 1} more: finetune.inspect lists them)"
            if len(refused) > 1 else "")
    raise FinetuneError(
        f"Module '{handle}' has an operation that is not known to be pure computation: "
        f"{first.describe()}{more}. Nothing was run. If you trust it, allow it with "
        f"hub_module.allowed_ops = {sorted({f.op for f in refused})!r}, or trust the whole module "
        "with hub_module.trusted = True.")
