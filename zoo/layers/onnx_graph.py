"""An ONNX inference graph as a plain ``nn.Module``: its nodes run as ``torch`` operations.

Imported models published as ONNX files (:mod:`zoo.hub.importers`) keep their graph as data — a list
of ``{"op", "inputs", "outputs", "attrs"}`` records (JSON, stored in a bundle's ``config.json``)
— and their initialisers as buffers (stored in the bundle's safetensors file). Nothing of the file
is executed: each node is one of the operators of :data:`OPS`, implemented here with
``torch.nn.functional``; any other operator is refused when the graph is read.
:func:`graph_from_onnx` reads a file with the ``onnx`` package (initialisers through
``onnx.numpy_helper``; ``Constant`` nodes become initialisers).

The operators cover convolutional image classifiers as ``torch.onnx.export`` writes them (the
EfficientNets of HSEmotion: Conv with folded batch norm, Sigmoid·Mul (SiLU), ReduceMean
(squeeze-excitation), GlobalAveragePool, Flatten, Gemm), and the shape arithmetic older exporters
emit around a flatten (Shape, Gather, Unsqueeze, Concat, Reshape).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["OPS", "OnnxGraph", "OnnxGraphError", "graph_from_onnx"]


class OnnxGraphError(ValueError):
    """A graph this module cannot run (unsupported operator or attribute); names the node."""


def _pads(attrs: Mapping[str, Any], dims: int) -> list[int]:
    """ONNX ``pads`` (begin..., end...) as ``F.pad``'s (last dim first) list."""
    pads = list(attrs.get("pads", [0] * (2 * dims)))
    out: list[int] = []
    for i in reversed(range(dims)):
        out += [pads[i], pads[i + dims]]
    return out


def _conv(x: Tensor, w: Tensor, b: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    dims = w.dim() - 2
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise OnnxGraphError(f"Conv auto_pad={attrs['auto_pad']!r} is not supported")
    pads = _pads(attrs, dims)
    symmetric = all(pads[2 * i] == pads[2 * i + 1] for i in range(dims))
    padding = [pads[2 * i] for i in reversed(range(dims))] if symmetric else 0
    if not symmetric:
        x = F.pad(x, pads)
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    return conv(
        x,
        w,
        b,
        stride=list(attrs.get("strides", [1] * dims)),
        padding=padding,
        dilation=list(attrs.get("dilations", [1] * dims)),
        groups=int(attrs.get("group", 1)),
    )


def _gemm(a: Tensor, b: Tensor, c: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    a = a.t() if attrs.get("transA", 0) else a
    b = b.t() if attrs.get("transB", 0) else b
    out = float(attrs.get("alpha", 1.0)) * (a @ b)
    return out if c is None else out + float(attrs.get("beta", 1.0)) * c


def _reduce_mean(x: Tensor, axes: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    dims = attrs.get("axes", axes.tolist() if axes is not None else list(range(x.dim())))
    return x.mean(dim=[int(d) for d in dims], keepdim=bool(attrs.get("keepdims", 1)))


def _flatten(x: Tensor, *, attrs: Mapping[str, Any]) -> Tensor:
    axis = int(attrs.get("axis", 1)) % max(x.dim(), 1)
    return x.reshape(int(math.prod(x.shape[:axis])), -1)


def _reshape(x: Tensor, shape: Tensor, *, attrs: Mapping[str, Any]) -> Tensor:
    target = [int(s) for s in shape.tolist()]
    target = [x.shape[i] if s == 0 and not attrs.get("allowzero", 0) else s for i, s in enumerate(target)]
    return x.reshape(target)


def _pool(kind: str) -> Callable[..., Tensor]:
    def pool(x: Tensor, *, attrs: Mapping[str, Any]) -> Tensor:
        kernel = list(attrs["kernel_shape"])
        dims = len(kernel)
        x = F.pad(x, _pads(attrs, dims), value=-math.inf if kind == "max" else 0.0)
        stride = list(attrs.get("strides", [1] * dims))
        fn = (F.max_pool1d, F.max_pool2d)[dims - 1] if kind == "max" else (F.avg_pool1d, F.avg_pool2d)[dims - 1]
        extra = {"ceil_mode": bool(attrs.get("ceil_mode", 0))}
        if kind == "avg":
            extra["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        return fn(x, kernel, stride, **extra)

    return pool


def _batch_norm(
    x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, var: Tensor, *, attrs: Mapping[str, Any]
) -> Tensor:
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=float(attrs.get("epsilon", 1e-5)))


def _clip(x: Tensor, low: Tensor | None = None, high: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    low_value = attrs.get("min", low.item() if low is not None else None)
    high_value = attrs.get("max", high.item() if high is not None else None)
    return x.clamp(min=low_value, max=high_value)


def _unsqueeze(x: Tensor, axes: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    for axis in sorted(int(a) for a in attrs.get("axes", axes.tolist() if axes is not None else [])):
        x = x.unsqueeze(axis if axis >= 0 else axis + x.dim() + 1)
    return x


def _squeeze(x: Tensor, axes: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    dims = attrs.get("axes", axes.tolist() if axes is not None else None)
    return x.squeeze() if dims is None else x.squeeze([int(d) for d in dims])


def _hard_sigmoid(x: Tensor, *, attrs: Mapping[str, Any]) -> Tensor:
    return (float(attrs.get("alpha", 0.2)) * x + float(attrs.get("beta", 0.5))).clamp(0.0, 1.0)


def _pad(x: Tensor, pads: Tensor | None = None, value: Tensor | None = None, *, attrs: Mapping[str, Any]) -> Tensor:
    if attrs.get("mode", "constant") != "constant":
        raise OnnxGraphError(f"Pad mode={attrs['mode']!r} is not supported")
    given = attrs.get("pads", pads.tolist() if pads is not None else [])
    dims = len(given) // 2
    fill = float(attrs.get("value", value.item() if value is not None else 0.0))
    return F.pad(x, _pads({"pads": given}, dims), value=fill)


#: ONNX operator -> ``fn(*inputs, attrs=...)`` (``None`` inputs for empty names)
OPS: dict[str, Callable[..., Tensor]] = {
    "Conv": _conv,
    "BatchNormalization": _batch_norm,
    "Gemm": _gemm,
    "MatMul": lambda a, b, *, attrs: a @ b,
    "Add": lambda a, b, *, attrs: a + b,
    "Sub": lambda a, b, *, attrs: a - b,
    "Mul": lambda a, b, *, attrs: a * b,
    "Div": lambda a, b, *, attrs: a / b,
    "Pow": lambda a, b, *, attrs: a**b,
    "Sqrt": lambda x, *, attrs: torch.sqrt(x),
    "Erf": lambda x, *, attrs: torch.erf(x),
    "Relu": lambda x, *, attrs: F.relu(x),
    "Sigmoid": lambda x, *, attrs: torch.sigmoid(x),
    "Tanh": lambda x, *, attrs: torch.tanh(x),
    "HardSigmoid": _hard_sigmoid,
    "HardSwish": lambda x, *, attrs: F.hardswish(x),
    "Clip": _clip,
    "Softmax": lambda x, *, attrs: torch.softmax(x, dim=int(attrs.get("axis", -1))),
    "ReduceMean": _reduce_mean,
    "GlobalAveragePool": lambda x, *, attrs: x.mean(dim=list(range(2, x.dim())), keepdim=True),
    "AveragePool": _pool("avg"),
    "MaxPool": _pool("max"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": lambda x, *, attrs: x.permute(*attrs.get("perm", list(reversed(range(x.dim()))))),
    "Shape": lambda x, *, attrs: torch.tensor(x.shape, dtype=torch.int64),
    "Gather": lambda x, i, *, attrs: torch.index_select(
        x, int(attrs.get("axis", 0)), i.reshape(-1).long() % x.shape[int(attrs.get("axis", 0))]
    ).reshape(*x.shape[: int(attrs.get("axis", 0))], *i.shape, *x.shape[int(attrs.get("axis", 0)) + 1 :]),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda *xs, attrs: torch.cat(list(xs), dim=int(attrs["axis"])),
    "Identity": lambda x, *, attrs: x,
    "Dropout": lambda x, *rest, attrs: x,
    "Pad": _pad,
}


class OnnxGraph(nn.Module):
    """Runs a stored ONNX graph (see the module docstring).

    Args:
        graph: ``{"input": name, "output": name, "nodes": [{"op", "inputs", "outputs",
            "attrs"}], "initializers": [names], "shapes": {name: shape}}`` as written by
            :func:`graph_from_onnx`.

    Raises:
        OnnxGraphError: an operator outside :data:`OPS`, or a node reading a value no earlier
            node, initialiser or the input defines.
    """

    def __init__(self, graph: Mapping[str, Any]) -> None:
        super().__init__()
        self.graph = {k: graph[k] for k in ("input", "output", "nodes", "initializers", "shapes")}
        known = {graph["input"], *graph["initializers"], ""}
        for i, node in enumerate(graph["nodes"]):
            if node["op"] not in OPS:
                raise OnnxGraphError(
                    f"node {i} ({node['outputs'][0]}): operator {node['op']!r} is not supported; "
                    f"supported: {', '.join(sorted(OPS))}"
                )
            unknown = [n for n in node["inputs"] if n not in known]
            if unknown:
                raise OnnxGraphError(f"node {i} ({node['op']}): reads {unknown}, which nothing defines before it")
            known.update(node["outputs"])
        if graph["output"] not in known:
            raise OnnxGraphError(f"the graph's output {graph['output']!r} is computed by no node")
        #: initialiser name -> buffer name (``t0``, ``t1``, ...: ONNX names are not attribute names)
        self.slots = {name: f"t{i}" for i, name in enumerate(graph["initializers"])}
        for name, slot in self.slots.items():
            self.register_buffer(slot, torch.zeros(graph["shapes"][name], dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        values: dict[str, Tensor | None] = {self.graph["input"]: x, "": None}
        for name, slot in self.slots.items():
            values[name] = getattr(self, slot)
        for node in self.graph["nodes"]:
            outputs = OPS[node["op"]](*(values[n] for n in node["inputs"]), attrs=node["attrs"])
            values[node["outputs"][0]] = outputs
        return values[self.graph["output"]]


def _attribute(attr: Any) -> Any:
    from onnx import helper

    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value]
    return value


def graph_from_onnx(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read an ONNX file into ``(graph, tensors)`` for :class:`OnnxGraph` (nothing is executed).

    Returns:
        The graph record and its initialisers as float32/int64 tensors, keyed by ONNX name.

    Raises:
        OnnxGraphError: not one input and one output, an unsupported operator, or an attribute
            that is a graph or a sparse tensor.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as err:  # noqa: BLE001 - protobuf decode errors
        raise OnnxGraphError(f"{path}: not an ONNX model ({err})") from None
    graph = model.graph
    tensors: dict[str, Tensor] = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32
        tensors[init.name] = torch.from_numpy(np.ascontiguousarray(array.astype(dtype)))
    inputs = [i.name for i in graph.input if i.name not in tensors]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxGraphError(
            f"{path}: expected one input and one output, got inputs {inputs} and outputs "
            f"{[o.name for o in graph.output]}"
        )
    nodes = []
    for i, node in enumerate(graph.node):
        if node.op_type == "Constant":
            array = numpy_helper.to_array(node.attribute[0].t) if node.attribute[0].name == "value" else None
            if array is None:
                raise OnnxGraphError(f"{path}: node {i}: Constant without a tensor 'value'")
            dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32
            tensors[node.output[0]] = torch.from_numpy(np.ascontiguousarray(np.asarray(array, dtype=dtype)))
            continue
        if len(node.output) != 1 and node.op_type != "Dropout":
            raise OnnxGraphError(f"{path}: node {i} ({node.op_type}) has {len(node.output)} outputs; one is supported")
        attrs = {}
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS, onnx.AttributeProto.SPARSE_TENSOR):
                raise OnnxGraphError(
                    f"{path}: node {i} ({node.op_type}): attribute {attr.name!r} is a graph/sparse tensor"
                )
            attrs[attr.name] = _attribute(attr)
        nodes.append({"op": node.op_type, "inputs": list(node.input), "outputs": list(node.output[:1]), "attrs": attrs})
    record = {
        "input": inputs[0],
        "output": graph.output[0].name,
        "nodes": nodes,
        "initializers": list(tensors),
        "shapes": {name: list(t.shape) for name, t in tensors.items()},
    }
    OnnxGraph(record)  # refuses unsupported operators before anything is written
    return record, tensors


def graph_input_shape(path: str | Path) -> Sequence[int | str]:
    """The declared input shape of an ONNX file (``dim_param`` names for dynamic axes)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    (first,) = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in first.type.tensor_type.shape.dim]
