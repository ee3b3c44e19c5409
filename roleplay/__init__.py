"""Role-play with simulated customers: scenarios as data, a dialogue engine, scoring, replay."""
from crmlab.roleplay.engine import Session, play_seed, replay
from crmlab.roleplay.scenario import RolePlay, builtin_roleplays, load_roleplay
from crmlab.roleplay.scoring import score

__all__ = ["Session", "play_seed", "replay", "RolePlay", "builtin_roleplays", "load_roleplay", "score"]
