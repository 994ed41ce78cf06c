"""Getting games into a store the rest of ncaa-eval can trust.

Public names: :class:`Game` and the Arrow schemas, :class:`ParquetRepository` (read the store),
:func:`import_kaggle` (validate a Kaggle download and write the store) and the demo league
(:func:`build_demo_store`, :class:`DemoConfig`).
"""

from ncaa_eval.ingest.demo import DemoConfig, write_demo_csvs
from ncaa_eval.ingest.demo_store import build_demo_store
from ncaa_eval.ingest.kaggle import ImportSummary, LeagueSummary, import_kaggle
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import GAMES_SCHEMA, LEAGUES, Game, League, make_game_id

__all__ = [
    "GAMES_SCHEMA",
    "LEAGUES",
    "DemoConfig",
    "Game",
    "ImportSummary",
    "League",
    "LeagueSummary",
    "ParquetRepository",
    "build_demo_store",
    "import_kaggle",
    "make_game_id",
    "write_demo_csvs",
]
