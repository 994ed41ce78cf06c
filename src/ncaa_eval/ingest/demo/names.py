"""Invented team and conference names."""

from __future__ import annotations

import numpy as np

#: Invented conference names; lowercase abbreviations in Kaggle's style but none of Kaggle's.
CONFERENCE_NAMES = (
    ("a_crest", "Atlantic Crest Conference"),
    ("big_river", "Big River Conference"),
    ("blue_ridge", "Blue Ridge Athletic Conference"),
    ("canyon", "Canyon Conference"),
    ("cap_dist", "Capital District League"),
    ("coast_pl", "Coastal Plains Conference"),
    ("delta_val", "Delta Valley Conference"),
    ("frontier", "Frontier Conference"),
    ("great_lk", "Great Lakes Alliance"),
    ("gulf_st", "Gulf States Conference"),
    ("harbor", "Harbor League"),
    ("heartland", "Heartland Conference"),
    ("high_pl", "High Plains Conference"),
    ("iron_rng", "Iron Range Conference"),
    ("keystone", "Keystone Conference"),
    ("lakeshore", "Lakeshore Athletic League"),
    ("mesa", "Mesa Conference"),
    ("mid_plains", "Mid-Plains Conference"),
    ("north_star", "North Star Conference"),
    ("n_woods", "North Woods League"),
    ("ozark", "Ozark Conference"),
    ("pac_rim", "Pacific Rim Conference"),
    ("piedmont", "Piedmont Conference"),
    ("prairie", "Prairie Conference"),
    ("red_rock", "Red Rock Conference"),
    ("river_val", "River Valley Conference"),
    ("sierra", "Sierra Conference"),
    ("summit_ln", "Summit Line Conference"),
    ("tidewater", "Tidewater Conference"),
    ("tri_state", "Tri-State Athletic Conference"),
    ("w_slope", "Western Slope Conference"),
    ("yankee_d", "Yankee Demo Conference"),
)
#: Invented place names are root + ending; a qualifier makes sister schools ("X" and "X St").
NAME_ROOTS = (
    "Alder", "Ash", "Bram", "Briar", "Cedar", "Clay", "Copper", "Dun", "Elm", "Fair",
    "Fern", "Glen", "Granite", "Hart", "Haw", "Holly", "Iron", "Juniper", "Kings", "Lark",
    "Marl", "Mill", "North", "Oak", "Pine", "Quarry", "Raven", "Red", "Rose", "Salt",
    "Silver", "Stone", "Thorn", "Timber", "Vale", "Willow", "Wex", "Wolf", "Yarrow", "Zephyr",
)  # fmt: skip
NAME_ENDINGS = (
    "ton", "wood", "field", "ville", "ford", "dale", "mont", "haven",
    "brook", "port", "burg", "crest", "ridge", "view", "water",
)  # fmt: skip
NAME_QUALIFIERS = (("{}", 6.0), ("{} St", 3.0), ("{} Tech", 0.6), ("{} A&M", 0.4), ("N {}", 0.5))


def _team_names(rng: np.random.Generator, n_teams: int) -> list[str]:
    """Distinct invented team names, alphabetical like Kaggle's ID order."""
    places = [root + ending for root in NAME_ROOTS for ending in NAME_ENDINGS]
    templates = [template for template, _ in NAME_QUALIFIERS]
    weights = np.tile([weight for _, weight in NAME_QUALIFIERS], len(places))
    picks = rng.choice(weights.size, size=n_teams, replace=False, p=weights / weights.sum())
    k = len(templates)
    return sorted(templates[i % k].format(places[i // k]) for i in picks.tolist())


def _conference_names(n_conferences: int) -> list[tuple[str, str]]:
    """(ConfAbbrev, Description) pairs, invented names first, then numbered ones."""
    named = list(CONFERENCE_NAMES[:n_conferences])
    extra = [
        (f"conf{i + 1:02d}", f"Demo Conference {i + 1}") for i in range(len(named), n_conferences)
    ]
    return named + extra
