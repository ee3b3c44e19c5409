"""Role-play with simulated customers: scenarios as data, a dialogue engine, scoring, replay.

The names a notebook imports are all here (``from crmlab.roleplay import …``); the player (ipywidgets), the CRM
link and the policy runner are imported when first asked for.
"""
from crmlab.roleplay.engine import Session, play_seed, replay
from crmlab.roleplay.scenario import RolePlay, builtin_roleplays, load_roleplay
from crmlab.roleplay.scoring import score

_LAZY = {"Player": "player", "write_to_crm": "crm", "load_policy": "policy", "play_policy": "policy"}

__all__ = ["Session", "play_seed", "replay", "RolePlay", "builtin_roleplays", "load_roleplay", "score", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'crmlab.roleplay' has no attribute {name!r}")
