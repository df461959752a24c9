"""PolyBench/C 4.2.1 loop nests, transcribed element by element into NumPy.

Where NPBench's NumPy port replaces a PolyBench loop nest by one matrix
expression (``gemm``, ``2mm``, ``3mm``, ``atax``, ``bicg``, ``mvt``,
``gesummv``, ``gemver``, ``doitgen``, ``covariance``, ``correlation``,
``floyd-warshall``), the port no longer shows how a C programmer's loops
behave. These entries keep PolyBench's ``kernel_<name>`` function as it is
published: the same signature (sizes first, then scalars, then every array,
including the output and scratch arrays the C harness allocates), the same
loop bounds, one scalar statement per C statement, ``a ? b : c`` as Python's
conditional expression, ``SQRT_FUN`` as ``np.sqrt``.

Provenance: PolyBench/C 4.2.1 (Louis-Noel Pouchet et al., Ohio State
University Software Distribution License, a BSD-style license), files
``<category>/<name>/<name>.c``; the inputs follow each file's ``init_array``
(identical to NPBench's ``initialize``) with ``DATA_TYPE`` float32 and zeros
for the arrays the harness allocates uninitialised. ``published`` is
PolyBench's MINI dataset (``<name>.h``), since the NumPy oracle interprets
every scalar statement; SMALL is recorded with each entry.

The code here is written for this corpus; nothing is copied from PolyBench.
"""

import numpy as np

from . import npbench_polybench as ports
from .registry import Kernel, Source

_F = np.float32


def kernel_gemm(ni, nj, nk, alpha, beta, C, A, B):
    for i in range(ni):
        for j in range(nj):
            C[i, j] *= beta
        for k in range(nk):
            for j in range(nj):
                C[i, j] += alpha * A[i, k] * B[k, j]


def kernel_2mm(ni, nj, nk, nl, alpha, beta, tmp, A, B, C, D):
    for i in range(ni):
        for j in range(nj):
            tmp[i, j] = 0.0
            for k in range(nk):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i in range(ni):
        for j in range(nl):
            D[i, j] *= beta
            for k in range(nj):
                D[i, j] += tmp[i, k] * C[k, j]


def kernel_3mm(ni, nj, nk, nl, nm, E, A, B, F, C, D, G):
    for i in range(ni):
        for j in range(nj):
            E[i, j] = 0.0
            for k in range(nk):
                E[i, j] += A[i, k] * B[k, j]
    for i in range(nj):
        for j in range(nl):
            F[i, j] = 0.0
            for k in range(nm):
                F[i, j] += C[i, k] * D[k, j]
    for i in range(ni):
        for j in range(nl):
            G[i, j] = 0.0
            for k in range(nj):
                G[i, j] += E[i, k] * F[k, j]


def kernel_atax(m, n, A, x, y, tmp):
    for i in range(n):
        y[i] = 0
    for i in range(m):
        tmp[i] = 0.0
        for j in range(n):
            tmp[i] = tmp[i] + A[i, j] * x[j]
        for j in range(n):
            y[j] = y[j] + A[i, j] * tmp[i]


def kernel_bicg(m, n, A, s, q, p, r):
    for i in range(m):
        s[i] = 0
    for i in range(n):
        q[i] = 0.0
        for j in range(m):
            s[j] = s[j] + r[i] * A[i, j]
            q[i] = q[i] + A[i, j] * p[j]


def kernel_mvt(n, x1, x2, y_1, y_2, A):
    for i in range(n):
        for j in range(n):
            x1[i] = x1[i] + A[i, j] * y_1[j]
    for i in range(n):
        for j in range(n):
            x2[i] = x2[i] + A[j, i] * y_2[j]


def kernel_gesummv(n, alpha, beta, A, B, tmp, x, y):
    for i in range(n):
        tmp[i] = 0.0
        y[i] = 0.0
        for j in range(n):
            tmp[i] = A[i, j] * x[j] + tmp[i]
            y[i] = B[i, j] * x[j] + y[i]
        y[i] = alpha * tmp[i] + beta * y[i]


def kernel_gemver(n, alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    for i in range(n):
        for j in range(n):
            A[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    for i in range(n):
        for j in range(n):
            x[i] = x[i] + beta * A[j, i] * y[j]
    for i in range(n):
        x[i] = x[i] + z[i]
    for i in range(n):
        for j in range(n):
            w[i] = w[i] + alpha * A[i, j] * x[j]


def kernel_doitgen(nr, nq, np_, A, C4, sum):
    # PolyBench's size argument is named `np`, which would hide numpy here.
    for r in range(nr):
        for q in range(nq):
            for p in range(np_):
                sum[p] = 0.0
                for s in range(np_):
                    sum[p] += A[r, q, s] * C4[s, p]
            for p in range(np_):
                A[r, q, p] = sum[p]


def kernel_covariance(m, n, float_n, data, cov, mean):
    for j in range(m):
        mean[j] = 0.0
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for i in range(n):
        for j in range(m):
            data[i, j] -= mean[j]
    for i in range(m):
        for j in range(i, m):
            cov[i, j] = 0.0
            for k in range(n):
                cov[i, j] += data[k, i] * data[k, j]
            cov[i, j] /= float_n - 1.0
            cov[j, i] = cov[i, j]


def kernel_correlation(m, n, float_n, data, corr, mean, stddev):
    eps = 0.1
    for j in range(m):
        mean[j] = 0.0
        for i in range(n):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for j in range(m):
        stddev[j] = 0.0
        for i in range(n):
            stddev[j] += (data[i, j] - mean[j]) * (data[i, j] - mean[j])
        stddev[j] /= float_n
        stddev[j] = np.sqrt(stddev[j])
        # near-zero deviations would divide by zero below
        stddev[j] = 1.0 if stddev[j] <= eps else stddev[j]
    for i in range(n):
        for j in range(m):
            data[i, j] -= mean[j]
            data[i, j] /= np.sqrt(float_n) * stddev[j]
    for i in range(m - 1):
        corr[i, i] = 1.0
        for j in range(i + 1, m):
            corr[i, j] = 0.0
            for k in range(n):
                corr[i, j] += data[k, i] * data[k, j]
            corr[j, i] = corr[i, j]
    corr[m - 1, m - 1] = 1.0


def kernel_floyd_warshall(n, path):
    for k in range(n):
        for i in range(n):
            for j in range(n):
                path[i, j] = (
                    path[i, j] if path[i, j] < path[i, k] + path[k, j] else path[i, k] + path[k, j]
                )


# -- inputs: PolyBench's init_array, DATA_TYPE float32 ----------------------------


def _zeros(*shape):
    return np.zeros(shape, dtype=_F)


def init_gemm(s):
    return {"ni": s["NI"], "nj": s["NJ"], "nk": s["NK"], **ports.init_gemm(s)}


def init_2mm(s):
    a = ports.init_2mm(s)
    return {
        "ni": s["NI"],
        "nj": s["NJ"],
        "nk": s["NK"],
        "nl": s["NL"],
        "alpha": a["alpha"],
        "beta": a["beta"],
        "tmp": _zeros(s["NI"], s["NJ"]),
        "A": a["A"],
        "B": a["B"],
        "C": a["C"],
        "D": a["D"],
    }


def init_3mm(s):
    a = ports.init_3mm(s)
    NI, NJ, NL = s["NI"], s["NJ"], s["NL"]
    return {
        "ni": NI,
        "nj": NJ,
        "nk": s["NK"],
        "nl": NL,
        "nm": s["NM"],
        "E": _zeros(NI, NJ),
        "A": a["A"],
        "B": a["B"],
        "F": _zeros(NJ, NL),
        "C": a["C"],
        "D": a["D"],
        "G": _zeros(NI, NL),
    }


def init_atax(s):
    a = ports.init_atax(s)
    return {
        "m": s["M"],
        "n": s["N"],
        "A": a["A"],
        "x": a["x"],
        "y": _zeros(s["N"]),
        "tmp": _zeros(s["M"]),
    }


def init_bicg(s):
    a = ports.init_bicg(s)
    return {
        "m": s["M"],
        "n": s["N"],
        "A": a["A"],
        "s": _zeros(s["M"]),
        "q": _zeros(s["N"]),
        "p": a["p"],
        "r": a["r"],
    }


def init_mvt(s):
    return {"n": s["N"], **ports.init_mvt(s)}


def init_gesummv(s):
    a = ports.init_gesummv(s)
    N = s["N"]
    return {
        "n": N,
        "alpha": a["alpha"],
        "beta": a["beta"],
        "A": a["A"],
        "B": a["B"],
        "tmp": _zeros(N),
        "x": a["x"],
        "y": _zeros(N),
    }


def init_gemver(s):
    return {"n": s["N"], **ports.init_gemver(s)}


def init_doitgen(s):
    a = ports.init_doitgen(s)
    return {
        "nr": s["NR"],
        "nq": s["NQ"],
        "np_": s["NP"],
        "A": a["A"],
        "C4": a["C4"],
        "sum": _zeros(s["NP"]),
    }


def init_covariance(s):
    M, N = s["M"], s["N"]
    a = ports.init_covariance(s)
    return {
        "m": M,
        "n": N,
        "float_n": a["float_n"],
        "data": a["data"],
        "cov": _zeros(M, M),
        "mean": _zeros(M),
    }


def init_correlation(s):
    M, N = s["M"], s["N"]
    a = ports.init_correlation(s)
    return {
        "m": M,
        "n": N,
        "float_n": a["float_n"],
        "data": a["data"],
        "corr": _zeros(M, M),
        "mean": _zeros(M),
        "stddev": _zeros(M),
    }


def init_floyd_warshall(s):
    return {"n": s["N"], **ports.init_floyd_warshall(s)}


# -- entries ---------------------------------------------------------------------

_CATEGORY = {
    "gemm": "linear-algebra/blas",
    "gemver": "linear-algebra/blas",
    "gesummv": "linear-algebra/blas",
    "2mm": "linear-algebra/kernels",
    "3mm": "linear-algebra/kernels",
    "atax": "linear-algebra/kernels",
    "bicg": "linear-algebra/kernels",
    "doitgen": "linear-algebra/kernels",
    "mvt": "linear-algebra/kernels",
    "covariance": "datamining",
    "correlation": "datamining",
    "floyd-warshall": "medley",
}


def _entry(name, fn, init, test, mini, small, static, mutates, tags=()):
    return Kernel(
        name=f"{name}.c",
        fn=fn,
        init=init,
        sizes={"test": test, "published": mini},
        source=Source(
            suite="PolyBench/C",
            version="4.2.1",
            kernel=f"kernel_{name.replace('-', '_')}",
            path=f"{_CATEGORY[name]}/{name}/{name}.c",
            license="OSU Software Distribution License (BSD-style)",
            published=f"MINI {mini}; SMALL {small}",
        ),
        static=static,
        mutates=mutates,
        tags=frozenset({"scalar-loops", *tags}),
    )


KERNELS = [
    _entry(
        "gemm",
        kernel_gemm,
        init_gemm,
        dict(NI=3, NJ=4, NK=5),
        dict(NI=20, NJ=25, NK=30),
        dict(NI=60, NJ=70, NK=80),
        static=("ni", "nj", "nk"),
        mutates=("C",),
    ),
    _entry(
        "2mm",
        kernel_2mm,
        init_2mm,
        dict(NI=2, NJ=3, NK=4, NL=5),
        dict(NI=16, NJ=18, NK=22, NL=24),
        dict(NI=40, NJ=50, NK=70, NL=80),
        static=("ni", "nj", "nk", "nl"),
        mutates=("tmp", "D"),
    ),
    _entry(
        "3mm",
        kernel_3mm,
        init_3mm,
        dict(NI=2, NJ=3, NK=4, NL=3, NM=2),
        dict(NI=16, NJ=18, NK=20, NL=22, NM=24),
        dict(NI=40, NJ=50, NK=60, NL=70, NM=80),
        static=("ni", "nj", "nk", "nl", "nm"),
        mutates=("E", "F", "G"),
    ),
    _entry(
        "atax",
        kernel_atax,
        init_atax,
        dict(M=4, N=5),
        dict(M=38, N=42),
        dict(M=116, N=124),
        static=("m", "n"),
        mutates=("y", "tmp"),
    ),
    _entry(
        "bicg",
        kernel_bicg,
        init_bicg,
        dict(M=4, N=5),
        dict(M=38, N=42),
        dict(M=116, N=124),
        static=("m", "n"),
        mutates=("s", "q"),
    ),
    _entry(
        "mvt",
        kernel_mvt,
        init_mvt,
        dict(N=5),
        dict(N=40),
        dict(N=120),
        static=("n",),
        mutates=("x1", "x2"),
    ),
    _entry(
        "gesummv",
        kernel_gesummv,
        init_gesummv,
        dict(N=5),
        dict(N=30),
        dict(N=90),
        static=("n",),
        mutates=("tmp", "y"),
    ),
    _entry(
        "gemver",
        kernel_gemver,
        init_gemver,
        dict(N=5),
        dict(N=40),
        dict(N=120),
        static=("n",),
        mutates=("A", "w", "x"),
    ),
    _entry(
        "doitgen",
        kernel_doitgen,
        init_doitgen,
        dict(NR=2, NQ=2, NP=3),
        dict(NQ=8, NR=10, NP=12),
        dict(NQ=20, NR=25, NP=30),
        static=("nr", "nq", "np_"),
        mutates=("A", "sum"),
    ),
    _entry(
        "covariance",
        kernel_covariance,
        init_covariance,
        dict(M=4, N=5),
        dict(M=28, N=32),
        dict(M=80, N=100),
        static=("m", "n"),
        mutates=("data", "cov", "mean"),
    ),
    _entry(
        "correlation",
        kernel_correlation,
        init_correlation,
        dict(M=4, N=5),
        dict(M=28, N=32),
        dict(M=80, N=100),
        static=("m", "n"),
        mutates=("data", "corr", "mean", "stddev"),
        tags=("data-control",),
    ),
    _entry(
        "floyd-warshall",
        kernel_floyd_warshall,
        init_floyd_warshall,
        dict(N=5),
        dict(N=60),
        dict(N=180),
        static=("n",),
        mutates=("path",),
        tags=("data-control",),
    ),
]
