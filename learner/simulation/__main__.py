"""python -m learner.simulation DIR [DIR ...]: the markdown target table of saved runs."""
import sys
from pathlib import Path

from learner.simulation.report import summary_markdown

print(summary_markdown([Path(p) for p in sys.argv[1:]]))
