"""Vector arithmetic on rows of padded arrays, as Numba intrinsics for the fused kernels.

The fused kernels spend their time in two operations per stored entry: the dot product of two
rank-length rows and adding a multiple of one row to another. Written as Python loops over a
run-time length, LLVM vectorised them for a long row (32 lanes per iteration) and ran a
rank-24 row through its scalar and 4-lane remainder loops, with run-time alias checks on every
entry. These intrinsics emit the vector instructions directly and, given the row length at
compile time, without any loop or branch. Measured at rank 20 (rows of 24) on 3 million stored
entries, 2 threads: :func:`~bcnmf.backend.fused.kl_usage_sweep` went from 34 to 19 ms (one core
alone, the usage pass from 10.3 to 4.1 ns per entry, the loadings pass from 11.5 to 5.5 ns).

The row length reaches the compiler as the length of a tuple, :func:`row_blocks`, so a kernel is
compiled once per number of blocks (and cached). Rows are those of C-contiguous 2-d arrays whose
length is a multiple of :data:`LANES`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

#: Values per vector: eight single-precision lanes of AVX2 (double precision takes two registers).
LANES = 8
#: Bytes per cache line, the alignment of :func:`aligned_zeros`.
CACHE_LINE = 64
#: Longest row, in vectors, emitted without a loop (rank up to 128); longer rows loop.
MAX_UNROLLED_BLOCKS = 16

_FAST = ("fast",)
_I32 = ir.IntType(32)


def _check_rows(name: str, *arrays) -> None:
    for array in arrays:
        if not (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"
                and isinstance(array.dtype, types.Float)):
            raise TypingError(f"{name} needs C-contiguous 2-d float arrays, got {array}")


def _row_pointer(context, builder, array_type, array, row, row_type):
    """Pointer to the first value of ``array[row]`` and the row length."""
    arr = context.make_array(array_type)(context, builder, array)
    length = cgutils.unpack_tuple(builder, arr.shape)[1]
    index = context.cast(builder, row, row_type, types.intp)
    return builder.gep(arr.data, [builder.mul(index, length)]), length


def _block(builder, pointer, block, vector_type):
    """Load address of vector ``block`` of a row."""
    start = builder.gep(pointer, [builder.mul(block, ir.Constant(block.type, LANES))])
    return builder.bitcast(start, vector_type.as_pointer())


def _vector_fma(builder, vector_type):
    suffix = "f32" if vector_type.element == ir.FloatType() else "f64"
    fnty = ir.FunctionType(vector_type, [vector_type] * 3)
    return cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{LANES}{suffix}")


def row_blocks(row_length: int) -> tuple[int, ...]:
    """The ``blocks`` argument of the row operations for rows of ``row_length`` values: one entry
    per vector, or empty (a run-time loop) past :data:`MAX_UNROLLED_BLOCKS` vectors."""
    if row_length % LANES:
        raise ValueError(f"rows must be padded to a multiple of {LANES} values, got {row_length}")
    count = row_length // LANES
    return (0,) * count if count <= MAX_UNROLLED_BLOCKS else ()


def aligned_zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Zeros starting on a cache-line boundary (NumPy's own start 16 bytes past one): with rows a
    multiple of 32 bytes long, no vector load or store then straddles two lines (measured 10-20%
    faster kernels)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(nbytes + CACHE_LINE, dtype=np.uint8)
    start = -raw.ctypes.data % CACHE_LINE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def padded_transpose(H: np.ndarray, dtype) -> np.ndarray:
    """``H.T`` in ``dtype``, its rows padded with zeros to a multiple of :data:`LANES` values, on
    cache-line-aligned memory: the row layout the intrinsics read."""
    k, p = H.shape
    Hp = aligned_zeros((p, -(-k // LANES) * LANES), dtype)
    Hp[:, :k] = H.T
    return Hp


def _check_blocks(name: str, blocks) -> int:
    if isinstance(blocks, types.UniTuple) or (isinstance(blocks, types.BaseTuple) and len(blocks) == 0):
        return len(blocks)
    raise TypingError(f"{name} needs the tuple of row_blocks() as its last argument, got {blocks}")


def _for_each_block(builder, count: int, length, body) -> None:
    """Emit ``body(blocks)``: once with all ``count`` blocks as constants, or, when ``count`` is 0,
    once per block in a loop over the run-time row ``length``."""
    index_type = length.type
    if count:
        body([ir.Constant(index_type, b) for b in range(count)])
        return
    with cgutils.for_range(builder, builder.udiv(length, ir.Constant(index_type, LANES))) as loop:
        body([loop.index])


def _horizontal_sum(builder, vector):
    width = LANES
    while width > 1:
        width //= 2
        low = builder.shuffle_vector(vector, vector, ir.Constant(ir.VectorType(_I32, width), list(range(width))))
        high = builder.shuffle_vector(vector, vector,
                                      ir.Constant(ir.VectorType(_I32, width), list(range(width, 2 * width))))
        vector = builder.fadd(low, high, flags=_FAST)
    return builder.extract_element(vector, ir.Constant(_I32, 0))


@intrinsic
def row_dot(typingctx, A, i, B, j, blocks):
    """``sum(A[i] * B[j])`` for rows of equal length and dtype; ``blocks`` from :func:`row_blocks`."""
    _check_rows("row_dot", A, B)
    count = _check_blocks("row_dot", blocks)
    if A.dtype != B.dtype:
        raise TypingError(f"row_dot needs one dtype, got {A.dtype} and {B.dtype}")

    def codegen(context, builder, signature, args):
        a, i_value, b, j_value, _ = args
        a_type, i_type, b_type, j_type, _ = signature.args
        vector_type = ir.VectorType(context.get_value_type(A.dtype), LANES)
        a_row, length = _row_pointer(context, builder, a_type, a, i_value, i_type)
        b_row, _ = _row_pointer(context, builder, b_type, b, j_value, j_type)
        total = cgutils.alloca_once_value(builder, ir.Constant(vector_type, None))

        def body(blocks):
            products = [builder.fmul(builder.load(_block(builder, a_row, block, vector_type), align=4),
                                     builder.load(_block(builder, b_row, block, vector_type), align=4), flags=_FAST)
                        for block in blocks]
            while len(products) > 1:  # a tree, so that the products do not wait on each other
                products = [builder.fadd(products[n], products[n + 1], flags=_FAST) if n + 1 < len(products)
                            else products[n] for n in range(0, len(products), 2)]
            builder.store(builder.fadd(builder.load(total), products[0], flags=_FAST), total)

        _for_each_block(builder, count, length, body)
        return _horizontal_sum(builder, builder.load(total))

    return A.dtype(A, i, B, j, blocks), codegen


@intrinsic
def row_axpy(typingctx, D, i, c, S, j, blocks):
    """``D[i] += c * S[j]`` for rows of equal length (``S`` converted to ``D``'s dtype);
    ``blocks`` from :func:`row_blocks`."""
    _check_rows("row_axpy", D, S)
    count = _check_blocks("row_axpy", blocks)

    def codegen(context, builder, signature, args):
        d, i_value, c_value, s, j_value, _ = args
        d_type, i_type, c_type, s_type, j_type, _ = signature.args
        element = context.get_value_type(D.dtype)
        vector_type = ir.VectorType(element, LANES)
        source_type = ir.VectorType(context.get_value_type(S.dtype), LANES)
        d_row, length = _row_pointer(context, builder, d_type, d, i_value, i_type)
        s_row, _ = _row_pointer(context, builder, s_type, s, j_value, j_type)
        coefficient = context.cast(builder, c_value, c_type, D.dtype)
        splat = builder.insert_element(ir.Constant(vector_type, None), coefficient, ir.Constant(_I32, 0))
        splat = builder.shuffle_vector(splat, splat, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))
        fma = _vector_fma(builder, vector_type)

        def body(blocks):
            for block in blocks:
                target = _block(builder, d_row, block, vector_type)
                source = builder.load(_block(builder, s_row, block, source_type), align=4)
                if S.dtype != D.dtype:
                    source = (builder.fpext if S.dtype.bitwidth < D.dtype.bitwidth else builder.fptrunc)(
                        source, vector_type)
                builder.store(builder.call(fma, [splat, source, builder.load(target, align=4)]), target, align=4)

        _for_each_block(builder, count, length, body)
        return context.get_dummy_value()

    return types.none(D, i, c, S, j, blocks), codegen
