"""A run's time: minutes from the scenario's start date (midnight) ⇄ calendar time, and the service centre's
opening hours."""
from __future__ import annotations

import datetime as dt

import numpy as np

from .purchases import MIN_PER_DAY
from .scenario import Scenario


class Clock:
    """Minutes since the start date ⇄ calendar time and the service centre's opening hours."""

    def __init__(self, scenario: Scenario):
        head, sv = scenario.scenario, scenario.service
        self.start = dt.datetime.combine(head.start_date, dt.time())
        self.service = sv
        self.open_min, self.close_min = sv.open_hour * 60, sv.close_hour * 60
        days = head.days + 30
        weekday = (np.arange(days) + self.start.weekday()) % 7
        self.open_day = np.isin(weekday, sv.open_weekdays)
        # for each day, the next day (itself included) on which the centre opens
        nxt = np.full(days + 1, days + 7)
        for d in range(days - 1, -1, -1):
            nxt[d] = d if self.open_day[d] else nxt[d + 1]
        self.next_open_day = nxt

    def stamps(self, minutes) -> list:
        """ISO text 'YYYY-MM-DD HH:MM:SS' for an array of minutes (None for NaN/inf)."""
        m = np.asarray(minutes, float)
        ok = np.isfinite(m)
        sec = np.where(ok, np.round(m * 60), 0).astype("int64")
        txt = (np.datetime64(self.start, "s") + sec.astype("timedelta64[s]")).astype("U19")
        txt.view(np.uint32).reshape(-1, 19)[:, 10] = ord(" ")    # 'YYYY-MM-DDTHH:MM:SS': the T becomes a space
        out = txt.tolist()
        for j in np.flatnonzero(~ok).tolist():
            out[j] = None
        return out

    def date(self, minute: float) -> str:
        return (self.start + dt.timedelta(minutes=float(minute))).date().isoformat()

    def dates(self, minutes) -> list[str]:
        """:meth:`date` for an array of minutes, vectorised."""
        days = np.floor(np.asarray(minutes, float) / MIN_PER_DAY).astype("int64")
        return (np.datetime64(self.start.date(), "D") + days.astype("timedelta64[D]")).astype(str).tolist()

    def is_open(self, minute: float) -> bool:
        day, tod = divmod(minute, MIN_PER_DAY)
        return bool(self.open_day[int(day)]) and self.open_min <= tod < self.close_min

    def business_hours(self, minutes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move contacts that need the centre open (calls, visits) into opening hours: the day moves
        to the next open day; the time of day follows the scenario's hourly profile, except for a
        share of contacts wanted while closed that come right after opening — the morning peak that
        makes the mean wait much larger than the median."""
        sv = self.service
        day = (minutes // MIN_PER_DAY).astype(np.int64)
        tod = minutes - day * MIN_PER_DAY
        was_open = self.open_day[np.minimum(day, len(self.open_day) - 1)] & (tod >= self.open_min) & (tod < self.close_min)
        later = np.where(tod >= self.close_min, day + 1, day)
        day = np.where(was_open, day, self.next_open_day[np.minimum(later, len(self.next_open_day) - 1)])
        # hour weights restricted to the open part of each hour
        hours = np.arange(24)
        open_part = np.clip(np.minimum(hours + 1, sv.close_hour) - np.maximum(hours, sv.open_hour), 0, 1)
        w = np.asarray(sv.hourly_profile if sv.hourly_profile else np.ones(24), float) * open_part
        hour = rng.choice(24, size=minutes.size, p=w / w.sum())
        start = np.maximum(hour, sv.open_hour) * 60
        within = start + rng.random(minutes.size) * open_part[hour] * 60
        deferred = ~was_open & (rng.random(minutes.size) < sv.deferred_share)
        first_hour = self.open_min + rng.random(minutes.size) * min(60.0, self.close_min - self.open_min)
        return day * MIN_PER_DAY + np.where(deferred, first_hour, within)
