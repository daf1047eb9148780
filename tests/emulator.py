"""bqemulator for bqmanage's own tests: the one the pytest plugin ships (bqmanage/testing/emulator.py).

``python -m tests.emulator`` creates its environment (``./dev test`` does this first).
"""

from __future__ import annotations

import sys

from bqmanage.testing.emulator import ensure_env, is_ready, running_emulator, venv_dir

__all__ = ["ensure_env", "is_ready", "running_emulator", "venv_dir"]

if __name__ == "__main__":
    print(f"bqemulator environment: {ensure_env(quiet='-v' not in sys.argv).parent.parent}")
