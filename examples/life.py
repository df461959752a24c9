"""Conway's Game of Life on a torus, with in-place neighbour counting.

The neighbour count is accumulated with ``+=`` on a scratch array, the board
is padded by copying its edges into a halo with slice assignments, and the
new generation is written back into the board in place. Run
``python examples/life.py``.
"""

import jax
import numpy as np

import mutjax


def life(board, padded, counts, generations):
    """Advance ``board`` (uint8, 0/1) by ``generations``; return the live count."""
    for _ in range(generations):
        padded[1:-1, 1:-1] = board  # wrap-around halo
        padded[0, 1:-1] = board[-1]
        padded[-1, 1:-1] = board[0]
        padded[:, 0] = padded[:, -2]
        padded[:, -1] = padded[:, 1]
        counts[...] = 0
        for di in (0, 1, 2):
            for dj in (0, 1, 2):
                if (di, dj) != (1, 1):
                    counts += padded[di : di + board.shape[0], dj : dj + board.shape[1]]
        board[...] = (counts == 3) | ((board == 1) & (counts == 2))
    return board.sum()


def show(board):
    return "\n".join("".join("#" if c else "." for c in row) for row in board)


def main() -> None:
    board = np.zeros((10, 10), np.uint8)
    board[1, 2] = board[2, 3] = board[3, 1] = board[3, 2] = board[3, 3] = 1  # a glider
    board[6, 6:9] = 1  # a blinker
    scratch = np.zeros((12, 12), np.uint8), np.zeros((10, 10), np.uint8)

    expected = board.copy()
    expected_alive = life(expected, *[s.copy() for s in scratch], 8)

    fast = jax.jit(mutjax.mutable(life, return_argnames="board"), static_argnums=3)
    alive, got = fast(board, *scratch, 8)
    got = np.asarray(got)

    print("after 8 generations:")
    for left, right in zip(show(expected).split("\n"), show(got).split("\n")):
        print(f"  {left}   {right}")
    print("  NumPy        mutjax")
    print("live cells  NumPy:", int(expected_alive), " mutjax:", int(alive))
    assert (got == expected).all() and got.dtype == expected.dtype


if __name__ == "__main__":
    main()
