"""The population: the accounts (organisations and persons) with their contacts and latent traits, drawn
at the start and as customers are won; each customer's life (purchases until dropout, service contacts);
the churn hazard that satisfaction drives. Part of :class:`~crmlab.simulator.engine.Simulation` (a mixin)."""
from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np

from .purchases import MIN_PER_YEAR, purchase_times
from . import layouts as L
from .records import take

NEUTRAL = 3.5            # satisfaction at which a customer churns at the kind's base rate
PROMOTER = 4.3           # satisfaction from which a customer recommends the company

COMPASS = ("North", "South", "East", "West", "Central", "Old Town", "Lakeside", "Riverside")   # en_US name parts
ZONES = ("高新区", "开发区", "新区", "东城区", "西城区", "南城区", "北城区", "经开区")              # zh_CN name parts


def churn_hazard(base, sat, sensitivity: float, exp=np.exp):
    """The churn hazard (per minute) at satisfaction ``sat``: the kind's base rate at :data:`NEUTRAL`, e times
    higher for each ``1 / sensitivity`` points below it. Arrays, or one customer's plain floats with
    ``exp=math.exp`` (numpy's costs a microsecond a call)."""
    return base * exp(sensitivity * (NEUTRAL - sat))


class Population:
    """The accounts and their lives in a :class:`~crmlab.simulator.engine.Simulation`."""

    def _initial_accounts(self):
        head, r = self.scenario.scenario, self.rng["accounts"]
        counts = _kind_counts([k.share for k in self.kinds], head.customers)
        kinds = np.repeat(np.arange(len(self.kinds)), counts)
        kinds = kinds[r.permutation(len(kinds))]
        created = [(head.start_date - dt.timedelta(days=int(d))).isoformat() for d in r.integers(30, 6 * 365, len(kinds))]
        idx = self._new_accounts(kinds, since=np.zeros(len(kinds)), created=created, source=None, lead=None, initial=True)
        # organisations entered twice: the second record (another department's) copies the name and city
        orgs = idx[[self.kinds[k].business for k in kinds.tolist()]]
        m = min(int(round(head.duplicate_share * orgs.size)) or int(head.duplicate_share > 0), orgs.size // 2)
        if m:
            originals = np.sort(r.choice(orgs, m, replace=False))
            rows = self.t.accounts
            names = [rows[i][L.ACCOUNTS.name] for i in originals.tolist()]
            cities = [rows[i][L.ACCOUNTS.city] for i in originals.tolist()]
            later = [(head.start_date - dt.timedelta(days=int(d))).isoformat() for d in r.integers(1, 3 * 365, m)]
            twins = self._new_accounts(self.acc.kind[originals].astype(int), since=np.zeros(m), created=later,
                                       source=None, lead=None, initial=True, names=names, cities=cities)
            self.duplicates = dict(zip(twins.tolist(), originals.tolist()))

    def _new_accounts(self, kinds: np.ndarray, since: np.ndarray, created: list[str], source, lead,
                      initial: bool = False, names: list[str] | None = None, prospect: bool = False,
                      cities: list[str] | None = None) -> np.ndarray:
        """Create accounts (with contacts and latent traits); customers start buying at ``since``.
        ``names`` are taken as given; otherwise an organisation is named from its kind's templates and
        its city, a name no other organisation has (:meth:`_org_name`)."""
        r, d = self.rng["accounts"], self.directory
        k = len(kinds)
        ids = self.ids.many("A", k)
        cities = d.pick_cities(k) if cities is None else list(cities)
        addresses = d.addresses(cities)
        people = d.names(k)
        since_dates = None if (prospect or initial) else self.clock.dates(since)
        loc = head_locale(self)
        # per kind, one vectorised draw of each trait (a scalar draw per account costs microseconds each)
        by_kind = [(j, kind, np.flatnonzero(kinds == j)) for j, kind in enumerate(self.kinds)]
        by_kind = [(j, kind, sel) for j, kind, sel in by_kind if sel.size]
        pick = r.random(k)                                   # name template of an organisation
        n_con = np.ones(k, np.int64)
        for _, kind, sel in by_kind:
            if kind.business:
                n_con[sel] = np.maximum(r.integers(kind.contacts.min, kind.contacts.max + 1, sel.size), 1)
        kind_of = [self.kinds[j] for j in np.asarray(kinds).tolist()]
        for i in range(k):
            kind = kind_of[i]
            if names is not None:
                name = names[i]
            elif kind.business:
                name = self._org_name(kind.name_templates[loc], pick[i], cities[i])
            else:
                name = people[i]
            cust_since = None if prospect else (created[i] if initial else since_dates[i])
            lead_id = lead[i] if isinstance(lead, list) else lead
            self.t.accounts.append((ids[i], name, kind.id, cities[i], addresses[i], created[i], source, lead_id,
                                    cust_since))
        # contacts
        cids = self.ids.many("C", int(n_con.sum()))
        cnames = d.names(len(cids))
        phones = d.phones(len(cids))
        serial = np.arange(len(self.t.contacts) + 1, len(self.t.contacts) + len(cids) + 1)
        emails = d.emails(serial)
        title_pick = r.random(len(cids)).tolist()
        pos = 0
        for i, m in enumerate(n_con.tolist()):
            kind = kind_of[i]
            titles = kind.contact_titles.get(loc) or ["-"]
            for j, cid in enumerate(cids[pos: pos + m]):
                nm = people[i] if not kind.business else cnames[pos + j]
                title = titles[int(title_pick[pos + j] * len(titles))]
                self.t.contacts.append((cid, ids[i], nm, title, phones[pos + j], emails[pos + j]))
            pos += m
        self.contact_ids.extend(cids)
        # latent traits
        rate, drop, serv, prop, hazard = (np.zeros(k) for _ in range(5))
        for _, kind, sel in by_kind:
            m = sel.size
            rate[sel] = kind.orders_per_year.draw(r, m)
            drop[sel] = kind.dropout.draw(r, m) if kind.dropout else 0.0
            serv[sel] = kind.service_per_year.draw(r, m)
            prop[sel] = kind.campaign_response.draw(r, m)
            hazard[sel] = -math.log(1 - kind.churn_per_year) / MIN_PER_YEAR
        sat0 = np.clip(self.scenario.satisfaction.start + r.normal(0, 0.4, k), 1, 5)
        start = np.asarray(since, float)
        if prospect:
            start = np.full(k, np.inf)
        first_contact = len(self.contact_ids) - len(cids) + np.concatenate([[0], np.cumsum(n_con)[:-1]])
        idx = self.acc.add(ids, kind=kinds, rate=rate, dropout=drop, service=serv, propensity=prop, hazard=hazard,
                           sat=sat0, churn_at=np.inf, died_at=np.inf, since=start, epoch_start=start,
                           first_contact=first_contact, n_contacts=n_con)
        self._churn_clock(idx, start, r)
        if not prospect:
            self._start_life(idx)
        return idx

    def _org_name(self, templates: list[str], pick: float, city: str) -> str:
        """An organisation's name from its kind's templates in its city, one no other organisation of
        the run has: the picked template, else the next free one, else a part of the city (a zone in
        zh_CN, a compass point in en_US) with it. Two records of one organisation (a duplicate
        entered by another department) are made on purpose, never by chance."""
        taken = self.org_names
        k = len(templates)
        start = int(pick * k)
        for j in range(k):
            name = templates[(start + j) % k].format(city=city)
            if name not in taken:
                taken.add(name)
                return name
        zh = head_locale(self) == "zh_CN"
        parts = ZONES if zh else COMPASS
        key = (templates[start], city)
        first = self.org_next.get(key, 0)    # the parts tried before for this name are taken (names stay taken)
        for n, part in enumerate(itertools.chain(parts[first:], itertools.count(max(2, first - len(parts) + 2))), first):
            where = f"{city}{part}" if zh or n >= len(parts) else f"{part} {city}"
            name = templates[start].format(city=where)
            if name not in taken:
                taken.add(name)
                self.org_next[key] = n + 1
                return name
        raise AssertionError("unreachable")

    def _start_life(self, idx: np.ndarray, first_order: bool = False):
        """Draw purchases (until BG/NBD dropout) and service contacts for accounts from ``since``."""
        a = self.acc
        start = a.epoch_start[idx]
        end = np.full(idx.size, float(self.horizon))
        owner, t, died = purchase_times(self.rng["purchases"], a.rate[idx], a.dropout[idx], start, end, self.season)
        a.died_at[idx] = died
        self.purchase_segments.append((idx[owner], t))
        life_end = np.minimum(died, end)
        self._contacts(idx, start, life_end)

    def _hazard(self, idx):
        return churn_hazard(self.acc.hazard[idx], self.acc.sat[idx], self.scenario.satisfaction.churn_sensitivity)

    def _churn_clock(self, idx: np.ndarray, start, r: np.random.Generator) -> None:
        """Set the churn clock of a life starting at ``start`` (a new customer's, a prospect won, a lapsed
        customer won back): when they would leave at the hazard of their satisfaction now (a draw of ``r``)."""
        self.acc.churn_at[idx] = start + r.exponential(1 / np.maximum(self._hazard(idx), 1e-300))

    def _experience(self, i: int, restart: float, delta: float | None = None, score: float | None = None):
        """Satisfaction follows experiences (exponential smoothing: towards ``score``, or moved by ``delta``);
        the churn clock restarts with the new hazard (memoryless, so redrawing the remaining time is exact:
        ``restart`` is a standard exponential draw, scaled by the new hazard). A customer who left while the
        contact was under way has gone: the experience changes nothing. (Once per contact: plain floats.)"""
        d, now = self.acc.view, self.env.now
        churn_at = d["churn_at"]
        if not d["epoch_start"][i] <= now < churn_at[i]:
            return
        _, _, memory, sensitivity = self.feel
        sats = d["sat"]
        old = sats[i]
        target = score if score is not None else old + delta
        new = old + memory * (target - old)
        sats[i] = new = 5.0 if new > 5.0 else 1.0 if new < 1.0 else new
        h = churn_hazard(d["hazard"][i], new, sensitivity, math.exp)
        churn_at[i] = now + restart / h if h > 0 else math.inf

    def _alive(self, i: int, now: float) -> bool:
        """A customer in their current life (a won-back customer's new life starts when they answer
        the win-back campaign: ``epoch_start``), not churned, not dropped out."""
        d = self.acc.view  # per-call hot path: index the arrays directly
        return d["epoch_start"][i] <= now < d["churn_at"][i] and now <= d["died_at"][i]

    def _alive_now(self) -> np.ndarray:
        """:meth:`_alive` for every account at once, now."""
        a, now = self.acc, self.env.now
        return (a.epoch_start <= now) & (a.churn_at > now) & (a.died_at > now)

    def _persons(self, idx: np.ndarray, pick: np.ndarray) -> list[str]:
        """For each account ``idx[k]``, the contact person at fraction ``pick[k]`` (in [0, 1)) of its list."""
        a = self.acc
        person = a.first_contact[idx].astype(np.int64) + (pick * a.n_contacts[idx]).astype(np.int64)
        return take(self.contact_ids, person.tolist())

    def acc_id(self, i: int) -> str:
        return self.acc.ids[i]


def head_locale(sim) -> str:
    return sim.scenario.scenario.locale


def _kind_counts(shares: list[float], n: int) -> list[int]:
    """Accounts per kind by largest remainder, so shares hold exactly for any n."""
    raw = [s * n for s in shares]
    counts = [int(math.floor(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts
