"""This project's own NumPy-style loop kernels: LU, Gauss-Seidel 2-D, Nussinov.

They predate the published kernels of the loop benchmark and stay because the
loop tests (``tests/test_loops.py``) and the recorded program sizes
(``tests/test_program_size.py``) run them, imported from
``benchmarks.loops_bench``. ``nussinov_loops`` is NPBench's Nussinov with the
table passed in; ``nussinov_acc_loops`` the same recurrence with one write per
cell; ``seidel_loops`` PolyBench/C's nine-point loop nest.
"""


# -- LU (Doolittle, triangular loops, dot products over traced slices) ---------------


def lu_loops(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, n):
            A[i, j] -= A[i, :i] @ A[:i, j]
    return A


# -- Gauss-Seidel 2-D ------------------------------------------------------------------


def seidel_loops(A, tsteps=10):
    n = A.shape[0]
    for _t in range(tsteps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = (
                    A[i - 1, j - 1]
                    + A[i - 1, j]
                    + A[i - 1, j + 1]
                    + A[i, j - 1]
                    + A[i, j]
                    + A[i, j + 1]
                    + A[i + 1, j - 1]
                    + A[i + 1, j]
                    + A[i + 1, j + 1]
                ) / 9.0
    return A


# -- Nussinov ---------------------------------------------------------------------------


def match(b1, b2):
    if b1 + b2 == 3:
        return 1
    return 0


def nussinov_loops(seq, table):
    n = seq.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < n:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1] + match(seq[i], seq[j]))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])
    return table


def nussinov_acc_loops(seq, table):
    # The same recurrence with a local accumulator: one write per cell.
    n = seq.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            v = table[i, j]
            if j - 1 >= 0:
                v = max(v, table[i, j - 1])
            if i + 1 < n:
                v = max(v, table[i + 1, j])
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    v = max(v, table[i + 1, j - 1] + match(seq[i], seq[j]))
                else:
                    v = max(v, table[i + 1, j - 1])
            for k in range(i + 1, j):
                v = max(v, table[i, k] + table[k + 1, j])
            table[i, j] = v
    return table
