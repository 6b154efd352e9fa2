"""Where benchmarks keep their generated data: never in git, reused between runs.

``$CHURNLAB_BENCH_DATA`` when set (the maintainers use a large scratch disk), else
``benchmarks/_data/`` in the repository, which .gitignore keeps out of git.
"""

from __future__ import annotations

import os
from pathlib import Path

BENCH_DATA = Path(os.environ.get("CHURNLAB_BENCH_DATA", Path(__file__).resolve().parent / "_data"))
