"""Build exaudit's sdist and wheel the way a release does, from a copy of what git tracks.

Building from a copy keeps build/ and egg-info litter out of the shared checkout; copying only what git tracks (or
would track: new files not yet committed) keeps ignored local litter out of the build, as in a fresh clone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the build needs when git is not there to say what is tracked.
FALLBACK = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "audit", "policies")


def tracked_copy(dst: Path) -> Path:
    """Copy the tracked files of the checkout (or FALLBACK) into ``dst``; returns ``dst``."""
    names: list[str] = []
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
        names = [n for n in out.decode().split("\0") if n and (ROOT / n).exists()]
    if not names:
        for top in FALLBACK:
            path = ROOT / top
            names += [str(p.relative_to(ROOT)) for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()]
    for name in names:
        if "__pycache__" in name:
            continue
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    return dst


def build(src: Path, out: Path) -> tuple[Path, Path]:
    """``python -m build`` (sdist, then the wheel from the sdist), offline: the venv's setuptools, no isolation."""
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    sdists = list(out.glob("exaudit-*.tar.gz"))
    wheels = list(out.glob("exaudit-*.whl"))
    assert len(sdists) == 1, sdists
    assert len(wheels) == 1, wheels
    return sdists[0], wheels[0]
