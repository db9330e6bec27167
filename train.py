"""The seed's entry point, kept working: `python train.py [--config ...]` = `spikereplay train ...`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from spikereplay.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_command="train"))
