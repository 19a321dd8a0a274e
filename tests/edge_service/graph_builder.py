"""Writes small int8 .tflite graphs op by op, for options no Keras layer produces.

Uses the LiteRT package's generated flatbuffer schema (the object API), never bytes by
hand; only the scripts that (re)build zoo models need it, not the tests on stored ones.
"""

from __future__ import annotations

import numpy as np

_TYPES = {"float32": 0, "int32": 2, "int64": 4, "int8": 9}


class GraphBuilder:
    """Tensors and operators of one subgraph; `build` returns the model bytes."""

    def __init__(self) -> None:
        from ai_edge_litert import schema_py_generated as schema
        self.schema = schema
        self.tensors: list = []
        self.buffers = [schema.BufferT()]
        self.operators: list = []
        self.codes: dict[tuple[int, int], int] = {}

    def tensor(self, name: str, shape, dtype: str = "int8", scale=None, zero_point=0,
               data=None, quantized_dimension: int = 0) -> int:
        """Adds a tensor (constant when `data` is given); int8 ones need a scale."""
        s = self.schema
        t = s.TensorT()
        t.name, t.shape, t.type = name.encode(), list(shape), _TYPES[dtype]
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = list(np.atleast_1d(scale).astype(float))
            q.zeroPoint = list(np.broadcast_to(np.atleast_1d(zero_point), (len(q.scale),)).astype(int))
            q.quantizedDimension = quantized_dimension
            t.quantization = q
        if data is not None:
            buffer = s.BufferT()
            buffer.data = np.asarray(data, dtype=dtype).reshape(shape).tobytes()
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def constant(self, name: str, values, dtype: str = "int32") -> int:
        values = np.asarray(values)
        return self.tensor(name, values.shape, dtype, data=values)

    def op(self, kind: str, inputs: list[int], outputs: list[int], options: str | None = None,
           version: int = 1, **fields) -> None:
        """Adds operator `kind`; `options` names its options table, `fields` its camelCase fields."""
        s = self.schema
        code = getattr(s.BuiltinOperator, kind)
        if (code, version) not in self.codes:
            self.codes[(code, version)] = len(self.codes)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[(code, version)], list(inputs), list(outputs)
        if options:
            table = getattr(s, options + "T")()
            for key, value in fields.items():
                setattr(table, key, value)
            o.builtinOptionsType, o.builtinOptions = getattr(s.BuiltinOptions, options), table
        self.operators.append(o)

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        import flatbuffers
        s = self.schema
        sub = s.SubGraphT()
        sub.tensors, sub.operators, sub.inputs, sub.outputs = self.tensors, self.operators, inputs, outputs
        model = s.ModelT()
        model.version, model.subgraphs, model.buffers = 3, [sub], self.buffers
        model.operatorCodes = []
        for (code, version), _ in sorted(self.codes.items(), key=lambda kv: kv[1]):
            c = s.OperatorCodeT()
            c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), version
            model.operatorCodes.append(c)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
