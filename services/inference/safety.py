"""What a user's SavedModel may not do: read or write files, reach the network or other
processes, or run Python. Checked on the graph's protobuf before TensorFlow loads anything.

The denied ops are taken from TensorFlow's own op registry (`tf.raw_ops`) by the patterns
below, so a TensorFlow upgrade that adds, say, `ReadFileV2` or another file-reading dataset is
denied without anyone editing a list; `denied_ops()` is what a test prints and checks."""

from __future__ import annotations

import functools
import re
from pathlib import Path

# What each pattern keeps out, matched against every registered op name.
DENIED_PATTERNS: dict[str, str] = {
    "files": r"ReadFile|WriteFile|MatchingFiles\w*|DeleteFile|\w*Reader(V2)?|Reader\w+|ImmutableConst"
    r"|FileSystemSetConfiguration|InitializeTableFromTextFile(V2)?|Experimental(CSV|Sql|LMDB|MatchingFiles)\w*"
    r"|(TFRecord|TextLine|FixedLengthRecord|CSV|Sql|LMDB|Load|Save|Cache)Dataset(V\d)?|\w*Snapshot\w*"
    r"|(Experimental)?DatasetToTFRecord|DistributedSave",
    "summaries": r"\w*Summary\w*Writer\w*|Write\w*Summary|SummaryWriter|StatsAggregatorSetSummaryWriter",
    "checkpoints": r"Save(V2|Slices)?|Restore(V2|Slice)?|MergeV2Checkpoints|ShardedFilename|ShardedFilespec",
    "python": r"PyFunc|PyFuncStateless|EagerPyFunc|GeneratorDataset",
    "network": r"\w*Rpc\w*|Collective\w*|Send|Recv|DataServiceDataset\w*|RegisterDataset\w*|\w*TPUEmbedding\w*",
    "output streams": r"Print(V2)?|Debug(Identity|NanCount|NumericSummary|GradientIdentity|GradientRefIdentity)\w*",
}
# TensorFlow's own SavedModel saver: the save and restore functions it writes beside the model.
# Their checkpoint ops are what `tf.saved_model.load` itself uses on the model's own variables.
_SAVER_FUNCTION = re.compile(r"__inference__traced_(save|restore)_\d+")
_FUNCTION_ATTRS = ("f", "then_branch", "else_branch", "body", "cond", "branches")


class UnsafeModel(Exception):
    """The model uses an op it may not; the message names it."""


@functools.cache
def registered_ops() -> frozenset[str]:
    import tensorflow as tf

    return frozenset(name for name in dir(tf.raw_ops) if not name.startswith("_"))


@functools.cache
def denied_ops() -> dict[str, str]:
    """Every registered op a user's model may not use, with the reason (its pattern's name)."""
    denied = {}
    for reason, pattern in DENIED_PATTERNS.items():
        compiled = re.compile(rf"(?:{pattern})")
        for name in registered_ops():
            if compiled.fullmatch(name):
                denied.setdefault(name, reason)
    return denied


def _called_functions(node) -> list[str]:
    names = [node.op]
    for attr in _FUNCTION_ATTRS:
        if attr in node.attr:
            value = node.attr[attr]
            names.append(value.func.name)
            names.extend(f.name for f in value.list.func)
    return names


def check_saved_model(directory: Path) -> None:
    """Refuse a SavedModel whose graph or functions use a denied or unknown op."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((directory / "saved_model.pb").read_bytes())
    except Exception as error:  # noqa: BLE001 - any parse failure means "not a SavedModel"
        raise UnsafeModel(f"saved_model.pb is not a readable SavedModel ({type(error).__name__})") from None
    denied, known = denied_ops(), registered_ops()
    for meta_graph in saved_model.meta_graphs:
        functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
        saver_nodes = _saver_nodes(meta_graph)
        # Functions something other than the saver calls: a signature, another function.
        referenced = {
            called for f in functions.values() for node in f.node_def for called in _called_functions(node)
        } | {
            called
            for node in meta_graph.graph_def.node
            if node.name not in saver_nodes
            for called in _called_functions(node)
        }

        def check(op: str, where: str, saver_allowed: bool, functions=functions) -> None:
            if op in functions:
                return
            if op not in known:
                raise UnsafeModel(f"op {op} (in {where}) is not a TensorFlow op this server knows")
            reason = denied.get(op)
            if reason == "checkpoints" and saver_allowed:
                return
            if reason is not None:
                raise UnsafeModel(f"op {op} is not allowed ({reason}; in {where})")

        for name, function in functions.items():
            # Only TensorFlow's saver functions, called by nothing else, may hold checkpoint ops.
            saver = bool(_SAVER_FUNCTION.fullmatch(name)) and name not in referenced
            for node in function.node_def:
                check(node.op, f"function {name}", saver)
        for node in meta_graph.graph_def.node:
            check(node.op, "the main graph", node.name in saver_nodes)


def _saver_nodes(meta_graph) -> set[str]:
    """The main-graph nodes of the SavedModel's own saver: the save and restore nodes its
    `saver_def` names, and everything under their scope (TF1 exports keep the saver in `save/`)."""
    saver = meta_graph.saver_def
    names = {saver.save_tensor_name.split(":", 1)[0], saver.restore_op_name.split(":", 1)[0]} - {""}
    scopes = {name.rsplit("/", 1)[0] + "/" for name in names if "/" in name}
    return {n.name for n in meta_graph.graph_def.node if n.name in names or any(n.name.startswith(s) for s in scopes)}
