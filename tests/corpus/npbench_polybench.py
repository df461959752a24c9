# ruff: noqa: B007
# (the published kernels keep their unused time-step indices)
"""The PolyBench/C 4.2.1 kernels as NPBench ports them to NumPy.

Provenance. Each kernel transcribes, statement by statement, the NumPy port
published by NPBench (github.com/spcl/npbench, BSD-3-Clause, commit f2d7f27,
``npbench/benchmarks/polybench/<name>/<name>_numpy.py``): the same loops,
slices, scratch buffers (``np.empty``/``np.zeros``/``np.eye`` where the port
makes them) and return values. NPBench's ports follow PolyBench/C 4.2.1 (Ohio
State University Software Distribution License). The inputs follow each
benchmark's ``initialize`` (``npbench/benchmarks/polybench/<name>/<name>.py``,
which transcribes PolyBench's ``init_array``) with ``datatype=np.float32``.
The ``published`` size is NPBench's ``S`` preset (``bench_info/<name>.json``);
PolyBench/C's own MINI and SMALL sizes are recorded with each entry.

The code here is written for this corpus; nothing is copied from NPBench.
"""

import numpy as np

from .registry import Kernel, Source

_F = np.float32  # the suites' ``datatype`` argument


def kernel_2mm(alpha, beta, A, B, C, D):
    D[:] = alpha * A @ B @ C + beta * D


def kernel_3mm(A, B, C, D):
    return A @ B @ C @ D


def adi(TSTEPS, N, u):
    v = np.empty(u.shape, dtype=u.dtype)
    p = np.empty(u.shape, dtype=u.dtype)
    q = np.empty(u.shape, dtype=u.dtype)

    DX = 1.0 / N
    DY = 1.0 / N
    DT = 1.0 / TSTEPS
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1  # PolyBench's coefficient (NPBench's port reads 1.0 + mul2)
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d

    for t in range(1, TSTEPS + 1):
        # sweep along columns
        v[0, 1 : N - 1] = 1.0
        p[1 : N - 1, 0] = 0.0
        q[1 : N - 1, 0] = v[0, 1 : N - 1]
        for j in range(1, N - 1):
            p[1 : N - 1, j] = -c / (a * p[1 : N - 1, j - 1] + b)
            q[1 : N - 1, j] = (
                -d * u[j, 0 : N - 2]
                + (1.0 + 2.0 * d) * u[j, 1 : N - 1]
                - f * u[j, 2:N]
                - a * q[1 : N - 1, j - 1]
            ) / (a * p[1 : N - 1, j - 1] + b)
        v[N - 1, 1 : N - 1] = 1.0
        for j in range(N - 2, 0, -1):
            v[j, 1 : N - 1] = p[1 : N - 1, j] * v[j + 1, 1 : N - 1] + q[1 : N - 1, j]
        # sweep along rows
        u[1 : N - 1, 0] = 1.0
        p[1 : N - 1, 0] = 0.0
        q[1 : N - 1, 0] = u[1 : N - 1, 0]
        for j in range(1, N - 1):
            p[1 : N - 1, j] = -f / (d * p[1 : N - 1, j - 1] + e)
            q[1 : N - 1, j] = (
                -a * v[0 : N - 2, j]
                + (1.0 + 2.0 * a) * v[1 : N - 1, j]
                - c * v[2:N, j]
                - d * q[1 : N - 1, j - 1]
            ) / (d * p[1 : N - 1, j - 1] + e)
        u[1 : N - 1, N - 1] = 1.0
        for j in range(N - 2, 0, -1):
            u[1 : N - 1, j] = p[1 : N - 1, j] * u[1 : N - 1, j + 1] + q[1 : N - 1, j]

    return u


def atax(A, x):
    return (A @ x) @ A


def bicg(A, p, r):
    return r @ A, A @ p


def cholesky(A):
    A[0, 0] = np.sqrt(A[0, 0])
    for i in range(1, A.shape[0]):
        for j in range(i):
            A[i, j] -= np.dot(A[i, :j], A[j, :j])
            A[i, j] /= A[j, j]
        A[i, i] -= np.dot(A[i, :i], A[i, :i])
        A[i, i] = np.sqrt(A[i, i])


def cholesky2(A):
    A[:] = np.linalg.cholesky(A) + np.triu(A, k=1)


def correlation(M, float_n, data):
    mean = np.mean(data, axis=0)
    stddev = np.std(data, axis=0)
    stddev[stddev <= 0.1] = 1.0
    data -= mean
    data /= np.sqrt(float_n) * stddev
    corr = np.eye(M, dtype=data.dtype)
    for i in range(M - 1):
        corr[i + 1 : M, i] = corr[i, i + 1 : M] = data[:, i] @ data[:, i + 1 : M]
    return corr


def covariance(M, float_n, data):
    mean = np.mean(data, axis=0)
    data -= mean
    cov = np.zeros((M, M), dtype=data.dtype)
    for i in range(M):
        cov[i:M, i] = cov[i, i:M] = data[:, i] @ data[:, i:M] / (float_n - 1.0)
    return cov


def covariance2(M, float_n, data):
    return np.cov(np.transpose(data))


def deriche(alpha, imgIn):
    k = (
        (1.0 - np.exp(-alpha))
        * (1.0 - np.exp(-alpha))
        / (1.0 + alpha * np.exp(-alpha) - np.exp(2.0 * alpha))
    )
    a1 = a5 = k
    a2 = a6 = k * np.exp(-alpha) * (alpha - 1.0)
    a3 = a7 = k * np.exp(-alpha) * (alpha + 1.0)
    a4 = a8 = -k * np.exp(-2.0 * alpha)
    b1 = 2.0 ** (-alpha)
    b2 = -np.exp(-2.0 * alpha)
    c1 = c2 = 1

    # horizontal pass, causal then anticausal
    y1 = np.empty_like(imgIn)
    y1[:, 0] = a1 * imgIn[:, 0]
    y1[:, 1] = a1 * imgIn[:, 1] + a2 * imgIn[:, 0] + b1 * y1[:, 0]
    for j in range(2, imgIn.shape[1]):
        y1[:, j] = a1 * imgIn[:, j] + a2 * imgIn[:, j - 1] + b1 * y1[:, j - 1] + b2 * y1[:, j - 2]
    y2 = np.empty_like(imgIn)
    y2[:, -1] = 0.0
    y2[:, -2] = a3 * imgIn[:, -1]
    for j in range(imgIn.shape[1] - 3, -1, -1):
        y2[:, j] = (
            a3 * imgIn[:, j + 1] + a4 * imgIn[:, j + 2] + b1 * y2[:, j + 1] + b2 * y2[:, j + 2]
        )
    imgOut = c1 * (y1 + y2)

    # vertical pass, causal then anticausal
    y1[0, :] = a5 * imgOut[0, :]
    y1[1, :] = a5 * imgOut[1, :] + a6 * imgOut[0, :] + b1 * y1[0, :]
    for i in range(2, imgIn.shape[0]):
        y1[i, :] = a5 * imgOut[i, :] + a6 * imgOut[i - 1, :] + b1 * y1[i - 1, :] + b2 * y1[i - 2, :]
    y2[-1, :] = 0.0
    y2[-2, :] = a7 * imgOut[-1, :]
    for i in range(imgIn.shape[0] - 3, -1, -1):
        y2[i, :] = (
            a7 * imgOut[i + 1, :] + a8 * imgOut[i + 2, :] + b1 * y2[i + 1, :] + b2 * y2[i + 2, :]
        )
    imgOut[:] = c2 * (y1 + y2)

    return imgOut


def doitgen(NR, NQ, NP, A, C4):
    A[:] = np.reshape(np.reshape(A, (NR, NQ, 1, NP)) @ C4, (NR, NQ, NP))


def durbin(r):
    y = np.empty_like(r)
    alpha = -r[0]
    beta = 1.0
    y[0] = -r[0]
    for k in range(1, r.shape[0]):
        beta *= 1.0 - alpha * alpha
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        y[:k] += alpha * np.flip(y[:k])
        y[k] = alpha
    return y


def fdtd_2d(TMAX, ex, ey, hz, _fict_):
    for t in range(TMAX):
        ey[0, :] = _fict_[t]
        ey[1:, :] -= 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] -= 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] -= 0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1])


def floyd_warshall(path):
    for k in range(path.shape[0]):
        path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))


def gemm(alpha, beta, C, A, B):
    C[:] = alpha * A @ B + beta * C


def gemver(alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x += beta * y @ A + z
    w += alpha * A @ x


def gesummv(alpha, beta, A, B, x):
    return alpha * A @ x + beta * B @ x


def gramschmidt(A):
    Q = np.zeros_like(A)
    R = np.zeros((A.shape[1], A.shape[1]), dtype=A.dtype)
    for k in range(A.shape[1]):
        nrm = np.dot(A[:, k], A[:, k])
        R[k, k] = np.sqrt(nrm)
        Q[:, k] = A[:, k] / R[k, k]
        for j in range(k + 1, A.shape[1]):
            R[k, j] = np.dot(Q[:, k], A[:, j])
            A[:, j] -= Q[:, k] * R[k, j]
    return Q, R


def heat_3d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1, 1:-1, 1:-1] = (
            0.125 * (A[2:, 1:-1, 1:-1] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[:-2, 1:-1, 1:-1])
            + 0.125 * (A[1:-1, 2:, 1:-1] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[1:-1, :-2, 1:-1])
            + 0.125 * (A[1:-1, 1:-1, 2:] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[1:-1, 1:-1, 0:-2])
            + A[1:-1, 1:-1, 1:-1]
        )
        A[1:-1, 1:-1, 1:-1] = (
            0.125 * (B[2:, 1:-1, 1:-1] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[:-2, 1:-1, 1:-1])
            + 0.125 * (B[1:-1, 2:, 1:-1] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[1:-1, :-2, 1:-1])
            + 0.125 * (B[1:-1, 1:-1, 2:] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[1:-1, 1:-1, 0:-2])
            + B[1:-1, 1:-1, 1:-1]
        )


def jacobi_1d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])


def jacobi_2d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1, 1:-1] = 0.2 * (
            A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1]
        )
        A[1:-1, 1:-1] = 0.2 * (
            B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1]
        )


def lu(A):
    for i in range(A.shape[0]):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, A.shape[0]):
            A[i, j] -= A[i, :i] @ A[:i, j]


def ludcmp(A, b):
    x = np.zeros_like(b)
    y = np.zeros_like(b)
    for i in range(A.shape[0]):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, A.shape[0]):
            A[i, j] -= A[i, :i] @ A[:i, j]
    for i in range(A.shape[0]):
        y[i] = b[i] - A[i, :i] @ y[:i]
    for i in range(A.shape[0] - 1, -1, -1):
        x[i] = (y[i] - A[i, i + 1 :] @ x[i + 1 :]) / A[i, i]
    return x, y


def mvt(x1, x2, y_1, y_2, A):
    x1 += A @ y_1
    x2 += y_2 @ A


def match(b1, b2):
    if b1 + b2 == 3:
        return 1
    else:
        return 0


def nussinov(N, seq):
    table = np.zeros((N, N), np.int32)
    for i in range(N - 1, -1, -1):
        for j in range(i + 1, N):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < N:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < N:
                if i < j - 1:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1] + match(seq[i], seq[j]))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])
    return table


def seidel_2d(TSTEPS, N, A):
    for t in range(0, TSTEPS - 1):
        for i in range(1, N - 1):
            A[i, 1:-1] += (
                A[i - 1, :-2]
                + A[i - 1, 1:-1]
                + A[i - 1, 2:]
                + A[i, 2:]
                + A[i + 1, :-2]
                + A[i + 1, 1:-1]
                + A[i + 1, 2:]
            )
            for j in range(1, N - 1):
                A[i, j] += A[i, j - 1]
                A[i, j] /= 9.0


def symm(alpha, beta, C, A, B):
    temp2 = np.empty((C.shape[1],), dtype=C.dtype)
    C *= beta
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            C[:i, j] += alpha * B[i, j] * A[i, :i]
            temp2[j] = B[:i, j] @ A[i, :i]
        C[i, :] += alpha * B[i, :] * A[i, i] + alpha * temp2


def syr2k(alpha, beta, C, A, B):
    for i in range(A.shape[0]):
        C[i, : i + 1] *= beta
        for k in range(A.shape[1]):
            C[i, : i + 1] += A[: i + 1, k] * alpha * B[i, k] + B[: i + 1, k] * alpha * A[i, k]


def syrk(alpha, beta, C, A):
    for i in range(A.shape[0]):
        C[i, : i + 1] *= beta
        for k in range(A.shape[1]):
            C[i, : i + 1] += alpha * A[i, k] * A[: i + 1, k]


def trisolv(L, x, b):
    for i in range(x.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


def trmm(alpha, A, B):
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            B[i, j] += np.dot(A[i + 1 :, i], B[i + 1 :, j])
    B *= alpha


# -- inputs: each benchmark's `initialize`, datatype float32 --------------------


def _grid(f, shape, dtype=_F):
    return np.fromfunction(f, shape, dtype=dtype)


def init_2mm(s):
    NI, NJ, NK, NL = s["NI"], s["NJ"], s["NK"], s["NL"]
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "A": _grid(lambda i, j: ((i * j + 1) % NI) / NI, (NI, NK)),
        "B": _grid(lambda i, j: (i * (j + 1) % NJ) / NJ, (NK, NJ)),
        "C": _grid(lambda i, j: ((i * (j + 3) + 1) % NL) / NL, (NJ, NL)),
        "D": _grid(lambda i, j: (i * (j + 2) % NK) / NK, (NI, NL)),
    }


def init_3mm(s):
    NI, NJ, NK, NL, NM = s["NI"], s["NJ"], s["NK"], s["NL"], s["NM"]
    return {
        "A": _grid(lambda i, j: ((i * j + 1) % NI) / (5 * NI), (NI, NK)),
        "B": _grid(lambda i, j: ((i * (j + 1) + 2) % NJ) / (5 * NJ), (NK, NJ)),
        "C": _grid(lambda i, j: (i * (j + 3) % NL) / (5 * NL), (NJ, NM)),
        "D": _grid(lambda i, j: ((i * (j + 2) + 2) % NK) / (5 * NK), (NM, NL)),
    }


def init_adi(s):
    N = s["N"]
    return {"TSTEPS": s["TSTEPS"], "N": N, "u": _grid(lambda i, j: (i + N - j) / N, (N, N))}


def init_atax(s):
    M, N = s["M"], s["N"]
    return {
        "A": _grid(lambda i, j: ((i + j) % N) / (5 * M), (M, N)),
        "x": _grid(lambda i: 1 + (i / _F(N)), (N,)),
    }


def init_bicg(s):
    M, N = s["M"], s["N"]
    return {
        "A": _grid(lambda i, j: (i * (j + 1) % N) / N, (N, M)),
        "p": _grid(lambda i: (i % M) / M, (M,)),
        "r": _grid(lambda i: (i % N) / N, (N,)),
    }


def spd_matrix(N):
    """PolyBench's positive definite input for cholesky, lu and ludcmp."""
    A = np.empty((N, N), dtype=_F)
    for i in range(N):
        A[i, : i + 1] = _grid(lambda j: (-j % N) / N + 1, (i + 1,))
        A[i, i + 1 :] = 0.0
        A[i, i] = 1.0
    return A @ np.transpose(A)


def init_spd(s):
    return {"A": spd_matrix(s["N"])}


def init_correlation(s):
    M, N = s["M"], s["N"]
    return {"M": M, "float_n": _F(N), "data": _grid(lambda i, j: (i * j) / M + i, (N, M))}


def init_covariance(s):
    M, N = s["M"], s["N"]
    return {"M": M, "float_n": _F(N), "data": _grid(lambda i, j: (i * j) / M, (N, M))}


def init_deriche(s):
    W, H = s["W"], s["H"]
    return {
        "alpha": _F(0.25),
        "imgIn": _grid(lambda i, j: ((313 * i + 991 * j) % 65536) / 65535.0, (W, H)),
    }


def init_doitgen(s):
    NR, NQ, NP = s["NR"], s["NQ"], s["NP"]
    return {
        "NR": NR,
        "NQ": NQ,
        "NP": NP,
        "A": _grid(lambda i, j, k: ((i * j + k) % NP) / NP, (NR, NQ, NP)),
        "C4": _grid(lambda i, j: (i * j % NP) / NP, (NP, NP)),
    }


def init_durbin(s):
    N = s["N"]
    return {"r": _grid(lambda i: N + 1 - i, (N,))}


def init_fdtd_2d(s):
    TMAX, NX, NY = s["TMAX"], s["NX"], s["NY"]
    return {
        "TMAX": TMAX,
        "ex": _grid(lambda i, j: (i * (j + 1)) / NX, (NX, NY)),
        "ey": _grid(lambda i, j: (i * (j + 2)) / NY, (NX, NY)),
        "hz": _grid(lambda i, j: (i * (j + 3)) / NX, (NX, NY)),
        "_fict_": _grid(lambda i: i, (TMAX,)),
    }


def init_floyd_warshall(s):
    N = s["N"]
    path = _grid(lambda i, j: i * j % 7 + 1, (N, N), dtype=np.int32)
    for i in range(N):
        for j in range(N):
            if (i + j) % 13 == 0 or (i + j) % 7 == 0 or (i + j) % 11 == 0:
                path[i, j] = 999
    return {"path": path}


def init_gemm(s):
    NI, NJ, NK = s["NI"], s["NJ"], s["NK"]
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "C": _grid(lambda i, j: ((i * j + 1) % NI) / NI, (NI, NJ)),
        "A": _grid(lambda i, k: (i * (k + 1) % NK) / NK, (NI, NK)),
        "B": _grid(lambda k, j: (k * (j + 2) % NJ) / NJ, (NK, NJ)),
    }


def init_gemver(s):
    N = s["N"]
    fn = _F(N)
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "A": _grid(lambda i, j: (i * j % N) / N, (N, N)),
        "u1": _grid(lambda i: i, (N,)),
        "v1": _grid(lambda i: ((i + 1) / fn) / 4.0, (N,)),
        "u2": _grid(lambda i: ((i + 1) / fn) / 2.0, (N,)),
        "v2": _grid(lambda i: ((i + 1) / fn) / 6.0, (N,)),
        "w": np.zeros((N,), dtype=_F),
        "x": np.zeros((N,), dtype=_F),
        "y": _grid(lambda i: ((i + 1) / fn) / 8.0, (N,)),
        "z": _grid(lambda i: ((i + 1) / fn) / 9.0, (N,)),
    }


def init_gesummv(s):
    N = s["N"]
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "A": _grid(lambda i, j: ((i * j + 1) % N) / N, (N, N)),
        "B": _grid(lambda i, j: ((i * j + 2) % N) / N, (N, N)),
        "x": _grid(lambda i: (i % N) / N, (N,)),
    }


def init_gramschmidt(s):
    M, N = s["M"], s["N"]
    rng = np.random.default_rng(42)
    A = rng.random((M, N), dtype=_F)
    while np.linalg.matrix_rank(A) < N:
        A = rng.random((M, N), dtype=_F)
    return {"A": A}


def _wrinkle(*index):
    """0.1 * ((3 i j + k) % 5): added where PolyBench's input is a fixed point.

    PolyBench initialises heat-3d linearly and seidel-2d bilinearly; both
    stencils average such fields back to themselves (up to rounding), so a
    lost write could not show. This deterministic term is not harmonic.
    """
    i, j, *k = index
    return 0.1 * ((3 * i * j + (k[0] if k else 0)) % 5)


def init_heat_3d(s):
    N = s["N"]
    A = _grid(lambda i, j, k: (i + j + (N - k)) * 10 / N + _wrinkle(i, j, k), (N, N, N))
    return {"TSTEPS": s["TSTEPS"], "A": A, "B": np.copy(A)}


def init_jacobi_1d(s):
    N = s["N"]
    return {
        "TSTEPS": s["TSTEPS"],
        "A": _grid(lambda i: (i + 2) / N, (N,)),
        "B": _grid(lambda i: (i + 3) / N, (N,)),
    }


def init_jacobi_2d(s):
    N = s["N"]
    return {
        "TSTEPS": s["TSTEPS"],
        "A": _grid(lambda i, j: i * (j + 2) / N, (N, N)),
        "B": _grid(lambda i, j: i * (j + 3) / N, (N, N)),
    }


def init_ludcmp(s):
    N = s["N"]
    return {"A": spd_matrix(N), "b": _grid(lambda i: (i + 1) / _F(N) / 2.0 + 4.0, (N,))}


def init_mvt(s):
    N = s["N"]
    return {
        "x1": _grid(lambda i: (i % N) / N, (N,)),
        "x2": _grid(lambda i: ((i + 1) % N) / N, (N,)),
        "y_1": _grid(lambda i: ((i + 3) % N) / N, (N,)),
        "y_2": _grid(lambda i: ((i + 4) % N) / N, (N,)),
        "A": _grid(lambda i, j: (i * j % N) / N, (N, N)),
    }


def init_nussinov(s):
    N = s["N"]
    return {"N": N, "seq": _grid(lambda i: (i + 1) % 4, (N,), dtype=np.int32)}


def init_seidel_2d(s):
    N = s["N"]
    return {
        "TSTEPS": s["TSTEPS"],
        "N": N,
        "A": _grid(lambda i, j: (i * (j + 2) + 2) / N + _wrinkle(i, j), (N, N)),
    }


def init_symm(s):
    M, N = s["M"], s["N"]
    A = np.empty((M, M), dtype=_F)
    for i in range(M):
        A[i, : i + 1] = _grid(lambda j: ((i + j) % 100) / M, (i + 1,))  # noqa: B023
        A[i, i + 1 :] = -999
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "C": _grid(lambda i, j: ((i + j) % 100) / M, (M, N)),
        "A": A,
        "B": _grid(lambda i, j: ((N + i - j) % 100) / M, (M, N)),
    }


def init_syr2k(s):
    M, N = s["M"], s["N"]
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "C": _grid(lambda i, j: ((i * j + 3) % N) / M, (N, N)),
        "A": _grid(lambda i, j: ((i * j + 1) % N) / N, (N, M)),
        "B": _grid(lambda i, j: ((i * j + 2) % M) / M, (N, M)),
    }


def init_syrk(s):
    M, N = s["M"], s["N"]
    return {
        "alpha": _F(1.5),
        "beta": _F(1.2),
        "C": _grid(lambda i, j: ((i * j + 2) % N) / M, (N, N)),
        "A": _grid(lambda i, j: ((i * j + 1) % N) / N, (N, M)),
    }


def init_trisolv(s):
    N = s["N"]
    return {
        "L": _grid(lambda i, j: (i + N - j + 1) * 2 / N, (N, N)),
        "x": np.full((N,), -999, dtype=_F),
        "b": _grid(lambda i: i, (N,)),
    }


def init_trmm(s):
    M, N = s["M"], s["N"]
    A = _grid(lambda i, j: ((i * j) % M) / M, (M, M))
    for i in range(M):
        A[i, i] = 1.0
    return {"alpha": _F(1.5), "A": A, "B": _grid(lambda i, j: ((N + i - j) % N) / N, (M, N))}


# -- entries ---------------------------------------------------------------------


def _source(name, folder, mini, small, npbench_s):
    return Source(
        suite="NPBench (NumPy port of PolyBench/C 4.2.1)",
        version="spcl/npbench f2d7f27",
        kernel=name,
        path=f"npbench/benchmarks/polybench/{folder}/{folder}_numpy.py",
        license="BSD-3-Clause (NPBench); PolyBench/C: OSU Software Distribution License",
        published=f"NPBench S {npbench_s}; PolyBench MINI {mini}; SMALL {small}",
    )


def _entry(name, fn, init, test, published, mini, small, folder=None, **kw):
    return Kernel(
        name=name,
        fn=fn,
        init=init,
        sizes={"test": test, "published": published},
        source=_source(name, folder or name.replace("-", "_"), mini, small, published),
        **kw,
    )


KERNELS = [
    _entry(
        "2mm",
        kernel_2mm,
        init_2mm,
        dict(NI=3, NJ=4, NK=5, NL=6),
        dict(NI=800, NJ=850, NK=900, NL=950),
        mini=dict(NI=16, NJ=18, NK=22, NL=24),
        small=dict(NI=40, NJ=50, NK=70, NL=80),
        folder="k2mm",
        mutates=("D",),
    ),
    _entry(
        "3mm",
        kernel_3mm,
        init_3mm,
        dict(NI=3, NJ=4, NK=5, NL=6, NM=7),
        dict(NI=800, NJ=850, NK=900, NL=950, NM=1000),
        mini=dict(NI=16, NJ=18, NK=20, NL=22, NM=24),
        small=dict(NI=40, NJ=50, NK=60, NL=70, NM=80),
        folder="k3mm",
        returns="G",
    ),
    _entry(
        "adi",
        adi,
        init_adi,
        dict(TSTEPS=2, N=6),
        dict(TSTEPS=5, N=100),
        mini=dict(TSTEPS=20, N=20),
        small=dict(TSTEPS=40, N=60),
        static=("TSTEPS", "N"),
        mutates=("u",),
        returns="u",
        tags=frozenset({"numpy-scratch"}),
    ),
    _entry(
        "atax",
        atax,
        init_atax,
        dict(M=5, N=6),
        dict(M=4000, N=5000),
        mini=dict(M=38, N=42),
        small=dict(M=116, N=124),
        returns="y",
    ),
    _entry(
        "bicg",
        bicg,
        init_bicg,
        dict(M=5, N=6),
        dict(M=4000, N=5000),
        mini=dict(M=38, N=42),
        small=dict(M=116, N=124),
        returns="(s, q)",
    ),
    _entry(
        "cholesky",
        cholesky,
        init_spd,
        dict(N=6),
        dict(N=100),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("A",),
    ),
    _entry(
        "cholesky2",
        cholesky2,
        init_spd,
        dict(N=6),
        dict(N=1000),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("A",),
    ),
    _entry(
        "correlation",
        correlation,
        init_correlation,
        dict(M=5, N=6),
        dict(M=500, N=600),
        mini=dict(M=28, N=32),
        small=dict(M=80, N=100),
        static=("M",),
        mutates=("data",),
        returns="corr",
        tags=frozenset({"numpy-scratch"}),
    ),
    _entry(
        "covariance",
        covariance,
        init_covariance,
        dict(M=5, N=6),
        dict(M=500, N=600),
        mini=dict(M=28, N=32),
        small=dict(M=80, N=100),
        static=("M",),
        mutates=("data",),
        returns="cov",
        tags=frozenset({"numpy-scratch"}),
    ),
    _entry(
        "covariance2",
        covariance2,
        init_covariance,
        dict(M=5, N=6),
        dict(M=500, N=600),
        mini=dict(M=28, N=32),
        small=dict(M=80, N=100),
        static=("M",),
        returns="cov",
    ),
    _entry(
        "deriche",
        deriche,
        init_deriche,
        dict(W=6, H=5),
        dict(W=400, H=200),
        mini=dict(W=64, H=64),
        small=dict(W=192, H=128),
        returns="imgOut",
    ),
    _entry(
        "doitgen",
        doitgen,
        init_doitgen,
        dict(NR=3, NQ=4, NP=5),
        dict(NR=60, NQ=60, NP=128),
        mini=dict(NQ=8, NR=10, NP=12),
        small=dict(NQ=20, NR=25, NP=30),
        static=("NR", "NQ", "NP"),
        mutates=("A",),
    ),
    _entry(
        "durbin",
        durbin,
        init_durbin,
        dict(N=6),
        dict(N=1000),
        mini=dict(N=40),
        small=dict(N=120),
        returns="y",
        rtol=1e-3,  # NPBench's own tolerance for durbin
    ),
    _entry(
        "fdtd-2d",
        fdtd_2d,
        init_fdtd_2d,
        dict(TMAX=3, NX=5, NY=6),
        dict(TMAX=20, NX=200, NY=220),
        mini=dict(TMAX=20, NX=20, NY=30),
        small=dict(TMAX=40, NX=60, NY=80),
        static=("TMAX",),
        mutates=("ex", "ey", "hz"),
    ),
    _entry(
        "floyd-warshall",
        floyd_warshall,
        init_floyd_warshall,
        dict(N=7),
        dict(N=200),
        mini=dict(N=60),
        small=dict(N=180),
        mutates=("path",),
    ),
    _entry(
        "gemm",
        gemm,
        init_gemm,
        dict(NI=4, NJ=5, NK=6),
        dict(NI=1000, NJ=1100, NK=1200),
        mini=dict(NI=20, NJ=25, NK=30),
        small=dict(NI=60, NJ=70, NK=80),
        mutates=("C",),
    ),
    _entry(
        "gemver",
        gemver,
        init_gemver,
        dict(N=6),
        dict(N=1000),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("A", "w", "x"),
    ),
    _entry(
        "gesummv",
        gesummv,
        init_gesummv,
        dict(N=6),
        dict(N=2000),
        mini=dict(N=30),
        small=dict(N=90),
        returns="y",
    ),
    _entry(
        "gramschmidt",
        gramschmidt,
        init_gramschmidt,
        dict(M=6, N=5),
        dict(M=70, N=60),
        mini=dict(M=20, N=30),
        small=dict(M=60, N=80),
        mutates=("A",),
        returns="(Q, R)",
        tags=frozenset({"numpy-scratch"}),
    ),
    _entry(
        "heat-3d",
        heat_3d,
        init_heat_3d,
        dict(TSTEPS=3, N=5),
        dict(TSTEPS=25, N=25),
        mini=dict(TSTEPS=20, N=10),
        small=dict(TSTEPS=40, N=20),
        static=("TSTEPS",),
        mutates=("A", "B"),
    ),
    _entry(
        "jacobi-1d",
        jacobi_1d,
        init_jacobi_1d,
        dict(TSTEPS=3, N=8),
        dict(TSTEPS=800, N=3200),
        mini=dict(TSTEPS=20, N=30),
        small=dict(TSTEPS=40, N=120),
        static=("TSTEPS",),
        mutates=("A", "B"),
    ),
    _entry(
        "jacobi-2d",
        jacobi_2d,
        init_jacobi_2d,
        dict(TSTEPS=3, N=6),
        dict(TSTEPS=50, N=150),
        mini=dict(TSTEPS=20, N=30),
        small=dict(TSTEPS=40, N=90),
        static=("TSTEPS",),
        mutates=("A", "B"),
    ),
    _entry(
        "lu",
        lu,
        init_spd,
        dict(N=6),
        dict(N=60),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("A",),
    ),
    _entry(
        "ludcmp",
        ludcmp,
        init_ludcmp,
        dict(N=6),
        dict(N=60),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("A",),
        returns="(x, y)",
    ),
    _entry(
        "mvt",
        mvt,
        init_mvt,
        dict(N=6),
        dict(N=5500),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("x1", "x2"),
    ),
    _entry(
        "nussinov",
        nussinov,
        init_nussinov,
        dict(N=6),
        dict(N=40),
        mini=dict(N=60),
        small=dict(N=180),
        static=("N",),
        returns="table",
        tags=frozenset({"numpy-scratch", "data-control"}),
    ),
    _entry(
        "seidel-2d",
        seidel_2d,
        init_seidel_2d,
        dict(TSTEPS=3, N=5),
        dict(TSTEPS=8, N=50),
        mini=dict(TSTEPS=20, N=40),
        small=dict(TSTEPS=40, N=120),
        static=("TSTEPS", "N"),
        mutates=("A",),
    ),
    _entry(
        "symm",
        symm,
        init_symm,
        dict(M=4, N=5),
        dict(M=40, N=50),
        mini=dict(M=20, N=30),
        small=dict(M=60, N=80),
        mutates=("C",),
        tags=frozenset({"numpy-scratch"}),
    ),
    _entry(
        "syr2k",
        syr2k,
        init_syr2k,
        dict(M=4, N=5),
        dict(M=35, N=50),
        mini=dict(M=20, N=30),
        small=dict(M=60, N=80),
        mutates=("C",),
    ),
    _entry(
        "syrk",
        syrk,
        init_syrk,
        dict(M=4, N=5),
        dict(M=50, N=70),
        mini=dict(M=20, N=30),
        small=dict(M=60, N=80),
        mutates=("C",),
    ),
    _entry(
        "trisolv",
        trisolv,
        init_trisolv,
        dict(N=6),
        dict(N=2000),
        mini=dict(N=40),
        small=dict(N=120),
        mutates=("x",),
    ),
    _entry(
        "trmm",
        trmm,
        init_trmm,
        dict(M=4, N=5),
        dict(M=65, N=80),
        mini=dict(M=20, N=30),
        small=dict(M=60, N=80),
        mutates=("B",),
    ),
]
