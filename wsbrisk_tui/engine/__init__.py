"""The risk engine: pure functions over arrays plus small frozen dataclasses.

Rules (enforced by ``tests/test_architecture.py``):

* never import Textual or Rich from here;
* no global state and no hidden network calls: data sources are passed in;
* randomness only through a ``numpy.random.Generator`` passed in by the caller.
"""
