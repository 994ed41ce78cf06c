"""The marker file that flags a folder of Kaggle CSVs as the synthetic demo league.

The importer and the demo generator both import this small module, so the importer does not
import the generator.
"""

from __future__ import annotations

__all__ = ["DEMO_MARKER", "DEMO_MARKER_FILE"]

#: Written into :data:`DEMO_MARKER_FILE` so the importer can flag the store as synthetic.
DEMO_MARKER = "ncaa-eval-demo"
#: Marker file name; the importer looks for exactly this name next to the CSVs.
DEMO_MARKER_FILE = "DemoLeague.txt"
