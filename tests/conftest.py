"""Shared pytest configuration.

Every test runs offline. The guard below makes any attempt to open a non-loopback socket fail
loudly, so a test that would touch Yahoo, FRED or Alpaca for real cannot pass by accident.
"""

from __future__ import annotations

import socket

from wsbrisk_tui.threads import limit_blas_threads

limit_blas_threads()  # as the CLI does, before NumPy loads: small matrices, 2 cores

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests draw the same examples on every run, so a red CI run is reproducible.
hypothesis_settings.register_profile("wsbrisk", derandomize=True, deadline=None)
hypothesis_settings.load_profile("wsbrisk")

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection
_LOOPBACK = ("127.", "::1", "localhost")


def _is_loopback(address) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
    else:
        return True  # AF_UNIX paths and the like
    return host.startswith(_LOOPBACK)


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    yield


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Config, data, cache and state folders under tmp_path (platformdirs reads XDG_* at call
    time), no WSBRISK_CONFIG: nothing of the user's leaks in, nothing of the test leaks out."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("WSBRISK_CONFIG", raising=False)
    return tmp_path
