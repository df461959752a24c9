"""Global sequence alignment (Needleman-Wunsch) by dynamic programming.

The score table is filled one anti-diagonal at a time: every cell of a
diagonal depends only on the two previous diagonals, so each diagonal is one
assignment through integer-array indices, ``H[i, j] = ...``, exactly as a
vectorized NumPy implementation writes it. The sequences are jit arguments,
so the match scores are traced. Run ``python examples/alignment.py``.
"""

import jax
import numpy as np

import mutjax

MATCH, MISMATCH, GAP = 2, -1, -2


def align_score(H, a, b):
    """Fill the score table ``H`` (shape (len(a)+1, len(b)+1)); return the score."""
    n, m = len(a), len(b)
    H[:, 0] = GAP * np.arange(n + 1)
    H[0, :] = GAP * np.arange(m + 1)
    for d in range(2, n + m + 1):  # cells with i + j == d
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        sub = (a[i - 1] == b[j - 1]) * (MATCH - MISMATCH) + MISMATCH
        diag = H[i - 1, j - 1] + sub
        up = H[i - 1, j] + GAP
        left = H[i, j - 1] + GAP
        H[i, j] = np.maximum(np.maximum(diag, up), left)
    return H[n, m]


def encode(s):
    return np.array(["ACGT".index(c) for c in s], np.int32)


def main() -> None:
    a, b = encode("GATTACACCGTAGGCT"), encode("GCATGCTACCGATTGA")
    H = np.zeros((len(a) + 1, len(b) + 1), np.int32)

    expected_H = H.copy()
    expected = align_score(expected_H, a, b)

    fast = jax.jit(mutjax.mutable(align_score, return_argnums=0))
    score, got_H = fast(H, a, b)

    print("alignment score  NumPy:", int(expected), " mutjax:", int(score))
    print("last row of the table")
    print("  NumPy :", expected_H[-1])
    print("  mutjax:", np.asarray(got_H)[-1])
    assert int(score) == int(expected) and (np.asarray(got_H) == expected_H).all()


if __name__ == "__main__":
    main()
