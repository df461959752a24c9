"""Opt-in conversion of a kernel's Python loops and branches into combinators.

``mutjax.mutable(fun, loops=True)`` rewrites the source of ``fun`` (and of
the Python functions it calls) with diastatic-malt, the standalone AutoGraph
that PennyLane builds on: every ``for``/``while``/``if`` becomes a call to one
of mutjax's operators (``for_stmt``, ``while_stmt``, ``if_stmt``), with the
loop body as a function and the Python locals it rebinds handed over through
``get_state`` / ``set_state``. malt also rewrites ``break``, ``continue`` and
``return`` into flags.

Loops whose bodies have Python side effects (``print``, ``list.append``, a
``return``, ``yield``, ``global``) are not safe to trace once: they are marked
before malt sees them and run as Python loops, with a warning naming the
file and line, or raise ``LoopConversionError`` when their trip count or
condition is traced.

- ``._analysis`` reads the source: side effects, cheap branches;
- ``._rewrite`` marks loops and branches in the AST before malt;
- ``._operators`` are what converted code calls, deciding at trace time;
- ``._convert`` runs malt's transformer, under one lock.
"""

from ._convert import _LOCK as _LOCK
from ._convert import convert as convert
from ._operators import LoopConversionError as LoopConversionError
from ._operators import LoopConversionWarning as LoopConversionWarning
