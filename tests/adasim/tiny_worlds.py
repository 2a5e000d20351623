"""Fixtures shared by the application's tests."""

from __future__ import annotations

from pathlib import Path

TEST_SCALE = """\
# A 2-day history, and caps on heavy users' sessions: the mechanics of the default world
# at a volume that keeps the test suite fast.
history_days = 2

[world.users]
max_sessions_per_day = 8

[world.sessions]
max_steps = 40
"""
"""Keys of ``[world]`` and two sub-tables that every tiny test world ends its ``[world]``
table with: the default world's laws, with a short history and capped heavy users so that
a run takes seconds (the default world lets a heavy user play 60 sessions of 100 songs a
day)."""

TINY_TWO_ARM_WORLD = (
    """
name = "tiny_ope"
seed = 5

[world]
n_users = 300
n_items = 200
new_users_per_day = 10.0
new_items_per_day = 5.0
"""
    + TEST_SCALE
    + """
[engine]
progress = false

[experiment]
pre_days = 1
days = 2
twin = false
workers = 1

[arms.control]
framework = "none"
n_candidates = 10
hidden_dims = [8]
train_every_minutes = 360

[arms.treatment]
framework = "none"
n_candidates = 10
hidden_dims = [8]
train_every_minutes = 360
"""
)
"""A 300-user world, one pre-period and two experiment days, twin off: seconds per run."""


def write_tiny_two_arm_world(path: Path, treatment_framework: str = "none") -> Path:
    """Write :data:`TINY_TWO_ARM_WORLD` with the treatment's framework to ``path``."""
    text = TINY_TWO_ARM_WORLD.replace(
        '[arms.treatment]\nframework = "none"',
        f'[arms.treatment]\nframework = "{treatment_framework}"',
    )
    path.write_text(text, encoding="utf-8")
    return path


def random_vs_popular(name: str, seed: int, *, twin: bool = True) -> str:
    """A torch-free experiment on a 300-user world with the shared scale: random against
    popular, 1 pre-period and 2 experiment days, one worker; a run takes seconds."""
    twin_line = "" if twin else "twin = false\n"
    return (
        f"""
name = "{name}"
seed = {seed}

[world]
n_users = 300
n_items = 150
new_users_per_day = 10.0
new_items_per_day = 5.0
dim = 8
"""
        + TEST_SCALE
        + f"""
[world.items]
n_artists = 50

[engine]
progress = false

[experiment]
pre_days = 1
days = 2
{twin_line}workers = 1

[arms.control]
agent = "random"

[arms.treatment]
agent = "popular"
"""
    )
