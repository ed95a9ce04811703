"""``wsbrisk-tui daemon``: compute and record headless, for systemd or a terminal multiplexer.

The loop is the dashboard's own engine worker (:class:`~wsbrisk_tui.engine.worker.EngineWorker`):
refreshes never overlap, each refresh is computed, its alerts evaluated and notified, and the
snapshot recorded in ONE transaction. A refresh that raises is logged with its traceback and
becomes an ``engine_error`` alert; the loop carries on. SIGTERM/SIGINT stop the loop after the
refresh in progress has been written (the write is never cut), then the process exits 0.

One daemon per store: the writer lock (:mod:`wsbrisk_tui.engine.lock`) makes a second one exit 2
naming the first one's pid; a lock left by a killed daemon is free again at once. Viewers attach
with ``wsbrisk-tui --attach``.

The log (rotating, 5 MB x 3, mode 0600) says what was recorded, which alerts fired, and every
error; it never contains the config's values or credentials.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any

LOG_MAX_BYTES = 5_000_000
LOG_BACKUPS = 3
LOGGER_NAME = "wsbrisk_tui.daemon"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "daemon", parents=[common], help="compute and record to the history, headless",
        description="Run the engine loop without a terminal UI: compute every interval, evaluate "
                    "the alert rules, record each snapshot to the history database. Stops cleanly "
                    "on SIGTERM/SIGINT after finishing the current write. Watch it with "
                    "`wsbrisk-tui --attach`.")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="seconds between refreshes (default: --refresh, else general.refresh_seconds)")
    p.add_argument("--log", metavar="FILE", help="log file (default: daemon.log in the user log folder)")
    p.add_argument("--once", action="store_true", help="record one refresh, then exit")
    p.add_argument("--max-refreshes", type=int, metavar="N", help="exit after N refreshes")
    p.add_argument("--store", metavar="FILE",
                   help="history database (default: history.path, else the user data folder)")


def _open_private(path: Path) -> None:
    """Create ``path`` with mode 0600 if absent (the log names positions and values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)


def setup_logging(log_path: Path) -> logging.Logger:
    """The daemon's logger: everything to the rotating file, warnings also to stderr."""
    from wsbrisk_tui.errors import InputError

    try:
        _open_private(log_path)
    except OSError as exc:
        raise InputError(f"{log_path}: cannot write the daemon log ({exc.strerror or exc}): pass "
                         "--log FILE in a writable folder") from exc
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fh = RotatingFileHandler(log_path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(fh)
    eh = logging.StreamHandler(sys.stderr)
    eh.setLevel(logging.WARNING)
    eh.setFormatter(logging.Formatter("wsbrisk-tui daemon: %(levelname)s %(message)s"))
    logger.addHandler(eh)
    return logger


def _bell_stream(enabled: bool) -> IO[str] | None:
    """The controlling terminal for the bell, when there is one (never under systemd)."""
    if not enabled:
        return None
    try:
        return open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 - kept open for the daemon's life
    except OSError:
        return sys.stderr if sys.stderr.isatty() else None


def run(args: argparse.Namespace) -> int:
    from wsbrisk_tui.config import config_for_args
    from wsbrisk_tui.errors import InputError
    from wsbrisk_tui.runtime import Runtime

    cfg = config_for_args(args)
    interval = args.interval if args.interval is not None else float(cfg.general.refresh_seconds)
    if not interval > 0:
        raise InputError(f"--interval: {interval:g} is not a positive number of seconds")
    if args.max_refreshes is not None and args.max_refreshes < 1:
        raise InputError(f"--max-refreshes: {args.max_refreshes} must be at least 1")
    paths = cfg.paths()
    store_path = Path(args.store).expanduser() if args.store else paths.history_db
    log_path = Path(args.log).expanduser() if args.log else paths.log_dir / "daemon.log"
    runtime = Runtime.from_config(cfg)
    # a one-shot run would be gone before a background training ends: it uses saved models
    runtime.ml_training = not args.once
    return serve(runtime, cfg, store_path=store_path, interval_s=interval, log_path=log_path,
                 max_refreshes=1 if args.once else args.max_refreshes)


def _log_ml(log: Any, ml: Any, seen: dict[str, Any]) -> None:
    """Log the ML models' changes once each: a training landed (with the verdicts), a training
    failed, a training started."""
    if not isinstance(ml, dict):
        return
    training = ml.get("training") or {}
    if training.get("started_at") and training["started_at"] != seen.get("started"):
        seen["started"] = training["started_at"]
        log.info("ML training started (%s steps)", training.get("steps"))
    if ml.get("trained_at") and ml["trained_at"] != seen.get("trained_at"):
        seen["trained_at"] = ml["trained_at"]
        verdicts = [v.get("verdict") for v in (ml.get("book") or {}).get("volatility") or []]
        log.info("ML models %s, trained through %s in %s s: %s", ml.get("source"),
                 ml.get("trained_through"), f"{ml.get('train_seconds') or 0:.1f}",
                 "; ".join(str(v) for v in verdicts))
    if ml.get("error") and ml["error"] != seen.get("error"):
        log.error("ML training failed: %s\n%s", ml["error"], (ml.get("error_detail") or "").rstrip())
    seen["error"] = ml.get("error")


def serve(runtime: Any, cfg: Any, *, store_path: Path, interval_s: float, log_path: Path,
          max_refreshes: int | None = None, install_signals: bool = True,
          stop_event: threading.Event | None = None) -> int:
    """Run the loop until a signal, ``stop_event`` or ``max_refreshes``; return the exit code.

    ``runtime`` is anything with ``compute(seq) -> RiskSnapshot`` (tests pass a hand-built one).
    """
    from wsbrisk_tui.attach import INFO_INTERVAL, INFO_PID, INFO_STARTED, RecordingRuntime
    from wsbrisk_tui.engine.history import HistoryStore
    from wsbrisk_tui.engine.limits import AlertMonitor
    from wsbrisk_tui.engine.lock import StoreLock
    from wsbrisk_tui.engine.worker import EngineFailure, EngineWorker

    log = setup_logging(log_path)
    lock = StoreLock(store_path).acquire()  # before any write, migrations included
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    store = None
    bell = None
    try:
        store = HistoryStore(store_path, retention_full_days=cfg.history.retention_full_days,
                             retention_headline_days=cfg.history.retention_headline_days)
        store.set_info(INFO_INTERVAL, repr(float(interval_s)))
        store.set_info(INFO_PID, str(os.getpid()))
        store.set_info(INFO_STARTED, datetime.now(timezone.utc).isoformat())
        bell = _bell_stream(bool(cfg.alerts.bell))
        monitor = AlertMonitor(cfg.limits.effective(), cfg.alerts, store, bell_stream=bell)
        recorder = RecordingRuntime(runtime, store, monitor, with_history=False)
        log.info("started pid %d: book %s, recording to %s every %g s (log %s)", os.getpid(),
                 getattr(runtime, "description", "?"), store_path, interval_s, log_path)
        done = {"n": 0, "failures": 0}
        seen_ml: dict[str, Any] = {}
        worker: EngineWorker

        def publish(result: Any) -> None:
            done["n"] += 1
            if isinstance(result, EngineFailure):
                done["failures"] += 1
                log.error("refresh %d failed: %s\n%s", result.seq, result.error, result.detail.rstrip())
                try:
                    recorder.on_failure(result.error, result.when)
                # The failure is already logged; a store that also fails must not kill the loop,
                # so this is logged with its traceback and the next refresh tries again.
                except Exception:  # noqa: BLE001
                    log.exception("could not record the engine-error alert")
            else:
                sec = result.sections.get("alerts") or {}
                active = sec.get("active") or []
                log.info("refresh %d recorded as #%s in %.2f s: NAV %s, %d active alert(s)",
                         result.meta.seq, recorder.last_refresh_id, result.meta.compute_seconds,
                         "n/a" if result.nav is None else f"{result.nav:,.2f}", len(active))
                for a in monitor.last_fired:
                    log.warning("alert %s %s: %s", a.severity.upper(), a.rule, a.message)
                for note in monitor.last_notes:
                    log.warning("notification: %s", note)
                _log_ml(log, result.sections.get("ml"), seen_ml)
                if store.last_purge is not None and done["n"] % store.purge_every == 1:
                    p = store.last_purge
                    log.info("retention: %d full snapshots deleted, %d refreshes thinned, %d expired",
                             p.full_deleted, p.thinned, p.expired)
            if max_refreshes is not None and done["n"] >= max_refreshes:
                worker.stop(timeout=0)  # from the worker thread: no new refresh starts
                stop.set()

        worker = EngineWorker(recorder.compute, interval_s, publish, name="wsbrisk-daemon")

        def on_signal(signum: int, frame: Any) -> None:
            log.info("%s received: finishing the refresh in progress", signal.Signals(signum).name)
            stop.set()

        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
        worker.start()
        while not stop.wait(0.5):
            if not worker.alive:
                log.error("the engine thread ended unexpectedly")
                return 1
        worker.stop(timeout=None)  # waits for the compute + write in progress
        log.info("stopped after %d refresh(es), %d failed", done["n"], done["failures"])
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if store is not None:
            store.close()
        if bell is not None and bell is not sys.stderr:
            bell.close()
        lock.release()
        for h in log.handlers:
            h.flush()
