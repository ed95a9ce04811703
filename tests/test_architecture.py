"""The layering rules of DESIGN.md section 3, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "wsbrisk_tui" / "engine"


def _engine_modules() -> list[str]:
    mods = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        mods.append(".".join(rel.parts).removesuffix(".__init__"))
    return mods


def test_engine_never_loads_textual_or_rich():
    """Importing every engine module (and running the demo pipeline) leaves textual/rich unloaded."""
    code = (
        "import importlib, sys\n"
        f"mods = {_engine_modules()!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine pulled in: {out.stdout.strip()}"


def test_no_global_numpy_randomness_in_package():
    """Randomness goes through one seeded Generator: no np.random.<draw>( calls anywhere."""
    import re

    pattern = re.compile(r"np\.random\.(rand|randn|normal|uniform|choice|seed|standard_t|random|randint)\(")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "wsbrisk_tui").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


@pytest.mark.parametrize("argv", [["--version"]])
def test_version_is_fast_and_light(argv):
    """`wsbrisk-tui --version` must not import the heavy stack (budget: 0.5 s cold)."""
    code = ("import sys, time; t=time.perf_counter(); from wsbrisk_tui.cli import main; "
            "rc = main(['--version']); "
            "heavy = [m for m in ('pandas','numpy','scipy','textual','arch','sklearn') if m in sys.modules]; "
            "print('HEAVY', ','.join(heavy)); print('SECONDS', time.perf_counter()-t)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    wall = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert "wsbrisk-tui" in out.stdout
    assert "HEAVY \n" in out.stdout or out.stdout.split("HEAVY")[1].split("\n")[0].strip() == ""
    # Generous bound for a loaded CI machine; the measured figure is in the README.
    assert wall < 2.0
