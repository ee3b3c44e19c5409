"""What a manager (or a student) may change between steps of a run, and what the contacts read of it.
Part of :class:`~crmlab.simulator.engine.Simulation` (a mixin)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .purchases import MIN_PER_DAY
from crmlab.vocab import SEVERITIES


@dataclass(frozen=True)
class Policy:
    """What a manager (or a student) may change between steps of a run."""
    staffing: tuple[int, ...] | None = None        # agents on duty per hour of day
    priority: dict[str, int] = field(default_factory=dict)   # customer kind → call priority (0 first)
    recovery: dict[str, str] = field(default_factory=dict)   # complaint severity → recovery action
    campaign_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # campaign → account ids


class Policies:
    """Changing the :class:`Policy` of a :class:`~crmlab.simulator.engine.Simulation`, and what is read of it."""

    def set_policy(self, **changes) -> Policy:
        """Change the policy from now on, e.g. ``staffing=[…24…]``, ``recovery={"high": "refund"}``."""
        sv, cp = self.scenario.service, self.scenario.complaints
        if "staffing" in changes and changes["staffing"] is not None:
            st = tuple(int(x) for x in changes["staffing"])
            if len(st) != 24 or min(st) < 0 or max(st) > sv.agents:
                raise ValueError(f"staffing needs 24 values between 0 and {sv.agents} (the agent pool)")
            if self.policy.staffing is None:
                raise ValueError("this scenario has no staffing plan to change (set service.staffing)")
            changes["staffing"] = st
        for key, allowed, what in (("priority", None, "customer kind"), ("recovery", cp.recovery, "recovery action")):
            for k, v in changes.get(key, {}).items():
                if key == "priority" and (k not in self.kind_index or not 0 <= int(v) <= 9):
                    raise ValueError(f"priority: unknown kind '{k}' or priority outside 0–9")
                if key == "recovery" and (k not in SEVERITIES or v not in allowed):
                    raise ValueError(f"recovery: '{k}' → '{v}' (severities {SEVERITIES}, actions {list(allowed)})")
        merged = {k: ({**getattr(self.policy, k), **v} if isinstance(v, dict) else v) for k, v in changes.items()}
        if "campaign_targets" in merged:
            merged["campaign_targets"] = {c: tuple(v) for c, v in merged["campaign_targets"].items()}
        self.policy = replace(self.policy, **merged)
        self._policy_in_force()
        return self.policy

    def _policy_in_force(self) -> None:
        """What the contacts read of the policy, ready to use: the call priority per kind index, and per
        complaint severity the recovery action, its cost in the run's money and its net effect."""
        cp = self.scenario.complaints
        self.priority_of = [int(self.policy.priority.get(k.id, k.priority)) for k in self.kinds]
        self.recovery_of = {}
        for severity in SEVERITIES:
            action = self.policy.recovery.get(severity, cp.policy[severity])
            rec = cp.recovery[action]
            self.recovery_of[severity] = (action, round(rec.cost * self.money, 2), rec.effect - cp.penalty[severity])

    def _staffing(self, minute: float) -> int:
        day = int(minute // MIN_PER_DAY)
        if not self.clock.open_day[min(day, len(self.clock.open_day) - 1)]:
            return 0
        return self.policy.staffing[int(minute % MIN_PER_DAY // 60)]
