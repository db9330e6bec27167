"""Engine benchmark: `python benchmarks/bench.py [options]` = `spikereplay bench [options]`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from spikereplay.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_command="bench"))
