"""Names, addresses, phones and e-mails from Faker, fast enough for a million customers.

Faker costs ≈0.1 ms per call (en_US), too slow for one call per row at 100k+ customers. We draw
small *pools* once from a seeded Faker instance (never ``Faker.seed``) and combine them with numpy
index draws: 1M names in well under a second, still Faker's own vocabulary per locale. Names repeat
(zh_CN especially), which is realistic: the customer id is the key, never the name.
"""
from __future__ import annotations

import numpy as np
from faker import Faker

POOL = 400  # distinct first names, last names, streets… drawn per run


class Directory:
    def __init__(self, locale: str, rng: np.random.Generator):
        self.locale, self.rng = locale, rng
        fake = Faker(locale)
        fake.seed_instance(int(rng.integers(2**63)))
        self.first = _unique(fake.first_name, POOL)
        self.last = _unique(fake.last_name, POOL // 4 if locale == "zh_CN" else POOL)
        self.cities = _unique(fake.city_name if locale == "zh_CN" else fake.city, 120)
        self.streets = [fake.street_address() for _ in range(POOL)]
        self.districts = ([fake.district() for _ in range(60)] if locale == "zh_CN"
                          else [f"{fake.state_abbr()} {fake.postcode()}" for _ in range(60)])
        self.domains = _unique(fake.free_email_domain, 8)
        self.users = [fake.user_name() for _ in range(POOL)]
        if locale == "zh_CN":
            self.phone_prefixes = ["134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158",
                                   "159", "182", "183", "187", "188", "130", "131", "132", "155", "156", "185",
                                   "186", "133", "153", "180", "189"]
        else:
            self.area_codes = [str(x) for x in rng.choice(np.arange(201, 990), 40, replace=False)]

    def names(self, n: int) -> list[str]:
        f = self.rng.integers(len(self.first), size=n)
        surname = self.rng.integers(len(self.last), size=n)
        if self.locale == "zh_CN":
            return [self.last[b] + self.first[a] for a, b in zip(f.tolist(), surname.tolist())]
        return [f"{self.first[a]} {self.last[b]}" for a, b in zip(f.tolist(), surname.tolist())]

    def pick_cities(self, n: int) -> list[str]:
        return [self.cities[i] for i in self.rng.integers(len(self.cities), size=n).tolist()]

    def addresses(self, cities: list[str]) -> list[str]:
        n = len(cities)
        s = self.rng.integers(len(self.streets), size=n).tolist()
        d = self.rng.integers(len(self.districts), size=n).tolist()
        if self.locale == "zh_CN":
            return [f"{c}市{self.districts[j]}区{self.streets[i]}" for c, i, j in zip(cities, s, d)]
        return [f"{self.streets[i]}, {c}, {self.districts[j]}" for c, i, j in zip(cities, s, d)]

    def phones(self, n: int) -> list[str]:
        digits = self.rng.integers(0, 10**8, size=n).tolist()
        if self.locale == "zh_CN":
            pre = self.rng.integers(len(self.phone_prefixes), size=n).tolist()
            return [f"{self.phone_prefixes[p]}{d:08d}" for p, d in zip(pre, digits)]
        area = self.rng.integers(len(self.area_codes), size=n).tolist()
        return [f"({self.area_codes[a]}) {d // 10**4 % 800 + 200:03d}-{d % 10**4:04d}" for a, d in zip(area, digits)]

    def emails(self, serials: np.ndarray) -> list[str]:
        """One address per contact; the serial number makes each unique."""
        u = self.rng.integers(len(self.users), size=len(serials)).tolist()
        dom = self.rng.integers(len(self.domains), size=len(serials)).tolist()
        return [f"{self.users[i]}{s}@{self.domains[j]}" for i, s, j in zip(u, serials.tolist(), dom)]


def _unique(draw, n: int, tries: int = 20) -> list[str]:
    """Up to ``n`` distinct values of ``draw()`` in first-seen order (deterministic)."""
    seen: dict[str, None] = {}
    for _ in range(n * tries):
        seen.setdefault(draw(), None)
        if len(seen) == n:
            break
    return list(seen)
