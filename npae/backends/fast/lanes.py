"""Explicit vectors of ``WIDTH`` values for Numba kernels: a type held in one vector register, and its operations.

LLVM vectorises a loop over an array by itself, but it will not keep a block of accumulators in vector
registers across an outer loop (it keeps them in memory: a load and a store per multiply-add). A kernel that
needs that, such as the products of ``npae.backends.fast.winograd``, writes its vectors out: each ``Lanes``
value is an LLVM ``<WIDTH x float>`` (or ``double``), a local variable of that type lives in a register, and
the operations below are single LLVM instructions:

- ``load(a, i)``: the values ``a[i : i + WIDTH]`` of a 1-D contiguous array; ``store(a, i, v)`` writes them;
- ``splat(a, i)``: ``a[i]`` in every lane; ``zeros(a)``: zeros in ``a``'s dtype;
- ``muladd(a, b, c)``: ``a * b + c`` lane by lane (one fused multiply-add where the machine has one);
- ``add(a, b)``, ``sub(a, b)``: lane by lane;
- ``transpose(r0, ..., r7)``: the eight vectors as the rows of an 8x8 block, returned as its eight columns
  (``WIDTH`` must be 8): eight values of one image become one value of eight images, and back.

No bounds are checked: the caller guarantees ``i + WIDTH <= a.size``. Eight float32 values are one AVX register
(two SSE registers, half an AVX-512 one: LLVM splits or pads as the machine needs).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

WIDTH = 8


class Lanes(types.Type):
    """``WIDTH`` values of one floating-point dtype, held as one LLVM vector."""

    def __init__(self, dtype):
        self.dtype = dtype
        super().__init__(name=f"Lanes({dtype})")


@register_model(Lanes)
class LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), WIDTH))


def _element_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


def _vector_pointer(context, builder, array_type, array, index):
    pointer = _element_pointer(context, builder, array_type, array, index)
    return builder.bitcast(pointer, context.get_value_type(Lanes(array_type.dtype)).as_pointer())


@intrinsic
def load(typingctx, array, index):
    """``array[index : index + WIDTH]`` as one vector."""
    def codegen(context, builder, signature, args):
        pointer = _vector_pointer(context, builder, signature.args[0], *args)
        return builder.load(pointer, align=array.dtype.bitwidth // 8)

    return Lanes(array.dtype)(array, index), codegen


@intrinsic
def store(typingctx, array, index, value):
    """``array[index : index + WIDTH] = value``."""
    def codegen(context, builder, signature, args):
        pointer = _vector_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store(args[2], pointer, align=array.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(array, index, value), codegen


@intrinsic
def splat(typingctx, array, index):
    """``array[index]`` in every lane."""
    def codegen(context, builder, signature, args):
        value = builder.load(_element_pointer(context, builder, signature.args[0], *args))
        vector_type = context.get_value_type(signature.return_type)
        one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), [0] * WIDTH))

    return Lanes(array.dtype)(array, index), codegen


@intrinsic
def zeros(typingctx, array):
    """A vector of zeros in ``array``'s dtype."""
    def codegen(context, builder, signature, args):
        return ir.Constant(context.get_value_type(signature.return_type), None)

    return Lanes(array.dtype)(array), codegen


@intrinsic
def muladd(typingctx, a, b, c):
    """``a * b + c`` lane by lane (``llvm.fmuladd``: fused where the machine has the instruction)."""
    def codegen(context, builder, signature, args):
        vector_type = context.get_value_type(signature.args[0])
        name = f"llvm.fmuladd.v{WIDTH}f{signature.args[0].dtype.bitwidth}"
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector_type, [vector_type] * 3),
                                                  name)
        return builder.call(function, args)

    return a(a, b, c), codegen


@intrinsic
def add(typingctx, a, b):
    """``a + b`` lane by lane."""
    def codegen(context, builder, signature, args):
        return builder.fadd(*args)

    return a(a, b), codegen


@intrinsic
def sub(typingctx, a, b):
    """``a - b`` lane by lane."""
    def codegen(context, builder, signature, args):
        return builder.fsub(*args)

    return a(a, b), codegen




def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), mask))


@intrinsic
def transpose(typingctx, r0, r1, r2, r3, r4, r5, r6, r7):
    """The columns of the 8x8 block whose rows are ``r0 ... r7``: column ``j`` is ``(r0[j], ..., r7[j])``.

    Three rounds of shuffles: interleave pairs of rows (``t``), then pairs of pairs (``u``), then the two
    halves (``o``), as an AVX 8x8 transpose does with ``unpcklps``, ``shufps`` and ``vperm2f128``.
    """
    rows = (r0, r1, r2, r3, r4, r5, r6, r7)

    def codegen(context, builder, signature, args):
        low, high = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
        t = []
        for i in range(0, 8, 2):
            t += [_shuffle(builder, args[i], args[i + 1], low), _shuffle(builder, args[i], args[i + 1], high)]
        even, odd = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
        u = []
        for i in (0, 4):  # rows 0-3, then rows 4-7
            u += [_shuffle(builder, t[i], t[i + 2], even), _shuffle(builder, t[i], t[i + 2], odd),
                  _shuffle(builder, t[i + 1], t[i + 3], even), _shuffle(builder, t[i + 1], t[i + 3], odd)]
        first, second = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
        columns = [_shuffle(builder, u[k], u[k + 4], first) for k in range(4)]
        columns += [_shuffle(builder, u[k], u[k + 4], second) for k in range(4)]
        return context.make_tuple(builder, signature.return_type, columns)

    if WIDTH != 8 or len(set(rows)) != 1:
        raise TypeError("transpose: eight vectors of one type, WIDTH 8")
    return types.UniTuple(r0, 8)(*rows), codegen
