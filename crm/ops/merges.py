"""Duplicates: finding probable duplicate accounts and contacts (:mod:`crmlab.crm.dedupe`), and merging
one record into another with everything that refers to it."""
from __future__ import annotations

import pandas as pd

from .. import dedupe
from ..errors import IllegalTransition, InvalidValue
from ..messages import Label
from ..migrate import referencing
from .core import ID_STYLE, Base, operation


class Merges(Base):
    """Finding and merging duplicate accounts and contacts."""

    def find_duplicate_accounts(self, threshold: float | None = None) -> pd.DataFrame:
        """Pairs of active accounts that are probably one organisation (see :mod:`crmlab.crm.dedupe`),
        most certain first: same contact phone or e-mail, then name similarity within a city."""
        threshold = self._setting("duplicate_threshold") if threshold is None else threshold
        accounts = {r["account_id"]: (r["name"], r["city"]) for r in self._con.execute(
            "SELECT account_id, name, city FROM accounts WHERE merged_into IS NULL ORDER BY account_id")}
        sims = dedupe.name_similarity_table(accounts)
        shared: dict[tuple[str, str], set[str]] = {}
        by_value: dict[tuple[str, str], set[str]] = {}
        for r in self._con.execute("SELECT c.account_id, c.phone, c.email FROM contacts c JOIN accounts a "
                                   "USING (account_id) WHERE a.merged_into IS NULL AND c.merged_into IS NULL"):
            for kind, value in (("phone", dedupe.normalise_phone(r["phone"])),
                                ("email", dedupe.normalise_email(r["email"]))):
                if value:
                    by_value.setdefault((kind, value), set()).add(r["account_id"])
        for (kind, _), ids in by_value.items():
            for a in ids:
                for b in ids:
                    if a < b:
                        shared.setdefault((a, b), set()).add(kind)
        pairs = {p for p, s in sims.items() if s >= threshold} | set(shared)
        rows = []
        for a, b in sorted(pairs):
            ev = shared.get((a, b), set())
            rows.append({"account_a": a, "account_b": b, "name_a": accounts[a][0], "name_b": accounts[b][0],
                         "city_a": accounts[a][1], "city_b": accounts[b][1],
                         "name_similarity": sims.get((a, b), 0.0), "same_phone": "phone" in ev,
                         "same_email": "email" in ev})
        cols = ["account_a", "account_b", "name_a", "name_b", "city_a", "city_b", "name_similarity", "same_phone",
                "same_email"]
        df = pd.DataFrame(rows, columns=cols)
        if df.empty:
            return df
        df["evidence"] = df["same_phone"].astype(int) + df["same_email"].astype(int)
        df = df.sort_values(["evidence", "name_similarity", "account_a", "account_b"],
                            ascending=[False, False, True, True])
        return df.drop(columns="evidence").reset_index(drop=True)

    def find_duplicate_contacts(self, account: str | None = None) -> pd.DataFrame:
        """Pairs of active contacts of one account with the same name, phone or e-mail."""
        sql = "SELECT contact_id, account_id, name, phone, email FROM contacts WHERE merged_into IS NULL"
        args: tuple = ()
        if account is not None:
            sql, args = sql + " AND account_id = ?", (account,)
        groups: dict[str, list[dict]] = {}
        for r in self._con.execute(sql + " ORDER BY contact_id", args):
            groups.setdefault(r["account_id"], []).append(dict(r))
        rows = []
        for acc, people in sorted(groups.items()):
            for i, a in enumerate(people):
                for b in people[i + 1:]:
                    same = {"same_name": a["name"].strip().lower() == b["name"].strip().lower(),
                            "same_phone": dedupe.normalise_phone(a["phone"]) == dedupe.normalise_phone(b["phone"]),
                            "same_email": dedupe.normalise_email(a["email"]) == dedupe.normalise_email(b["email"])}
                    if any(same.values()):
                        rows.append({"account_id": acc, "contact_a": a["contact_id"], "contact_b": b["contact_id"],
                                     "name_a": a["name"], "name_b": b["name"], **same})
        return pd.DataFrame(rows, columns=["account_id", "contact_a", "contact_b", "name_a", "name_b", "same_name",
                                           "same_phone", "same_email"])

    @operation("account.merge")
    def merge_accounts(self, survivor: str, merged: str) -> dict[str, int]:
        """Move everything of ``merged`` (contacts, orders, tickets, calls, opportunities, leads,
        activities, complaints, CSAT, survey answers, campaign memberships, follow-ups …) to
        ``survivor`` and mark ``merged`` as merged into it. Nothing is deleted except a campaign
        membership both accounts had, which is combined into the survivor's (earliest contact,
        earliest response) — its old row is in the audit log. Returns rows moved per table."""
        keep = self._get("accounts", survivor)
        gone = self._get("accounts", merged)
        if survivor == merged:
            raise self._err(InvalidValue, "merge_self", what=Label("record", "accounts"), id=merged)
        moved = self._move_references("accounts", merged, survivor)
        fill = {}
        for col, pick in (("created_on", min), ("customer_since", min)):
            values = [v for v in (keep[col], gone[col]) if v is not None]
            if values and pick(values) != keep[col]:
                fill[col] = pick(values)
        for col in ("source_id", "lead_id", "grade", "segment"):
            if keep[col] is None and gone[col] is not None:
                fill[col] = gone[col]
        if fill:
            self._update("accounts", survivor, fill)
        self._update("accounts", merged, {"merged_into": survivor, "merged_at": self._now})
        return moved

    @operation("contact.merge")
    def merge_contacts(self, survivor: str, merged: str) -> dict[str, int]:
        """Move the orders, tickets, calls, survey answers and follow-ups of contact ``merged`` to
        ``survivor`` (both at the same account) and mark ``merged`` as merged into it."""
        keep = self._get("contacts", survivor)
        gone = self._get("contacts", merged)
        if survivor == merged:
            raise self._err(InvalidValue, "merge_self", what=Label("record", "contacts"), id=merged)
        if keep["account_id"] != gone["account_id"]:
            raise self._err(IllegalTransition, "merge_contacts_accounts", a=survivor, b=merged,
                            acc_a=keep["account_id"], acc_b=gone["account_id"])
        moved = self._move_references("contacts", merged, survivor)
        self._update("contacts", merged, {"merged_into": survivor, "merged_at": self._now})
        return moved

    def _move_references(self, target: str, old: str, new: str) -> dict[str, int]:
        """Repoint every foreign key to ``target`` from ``old`` to ``new``, including earlier merges
        into ``old``; one audit row per table lists the keys of the rows moved."""
        moved = {}
        for table, col in referencing(self._con, target):
            pk = [r[1] for r in sorted(self._con.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5]]
            if table == "campaign_members" and col == "account_id":
                self._combine_memberships(old, new)
            keys = ["|".join(str(v) for v in r) for r in self._con.execute(
                f"SELECT {', '.join(pk)} FROM {table} WHERE {col} = ? ORDER BY {', '.join(pk)}", (old,))]
            if not keys:
                continue
            self._con.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = ?", (new, old))
            self._audit(table, old, {col: old, "rows": keys}, {col: new, "rows": keys})
            moved[table] = len(keys)
        # records merged into `old` earlier now point at `new`: merges never chain
        key = ID_STYLE[target][0]
        earlier = [r[0] for r in self._con.execute(
            f"SELECT {key} FROM {target} WHERE merged_into = ? ORDER BY {key}", (old,))]
        for rid in earlier:
            self._update(target, rid, {"merged_into": new})
        return moved

    def _combine_memberships(self, old: str, new: str) -> None:
        both = self._con.execute(
            "SELECT o.campaign_id FROM campaign_members o JOIN campaign_members n USING (campaign_id) "
            "WHERE o.account_id = ? AND n.account_id = ? ORDER BY o.campaign_id", (old, new)).fetchall()
        for (campaign,) in both:
            get = lambda acc: dict(self._con.execute(
                "SELECT * FROM campaign_members WHERE campaign_id = ? AND account_id = ?", (campaign, acc)).fetchone())
            a, b = get(new), get(old)
            responses = sorted((m["responded_at"], m["order_id"] or "") for m in (a, b) if m["responded_at"])
            combined = {"contacted_at": min(a["contacted_at"], b["contacted_at"]),
                        "responded_at": responses[0][0] if responses else None,
                        "order_id": (responses[0][1] or None) if responses else None}
            if combined["order_id"] is None:
                combined["order_id"] = a["order_id"] or b["order_id"]
            self._con.execute("DELETE FROM campaign_members WHERE campaign_id = ? AND account_id = ?", (campaign, old))
            self._con.execute("UPDATE campaign_members SET contacted_at = ?, responded_at = ?, order_id = ? "
                              "WHERE campaign_id = ? AND account_id = ?", (*combined.values(), campaign, new))
            self._audit("campaign_members", f"{campaign}|{old}", b, None)
            self._audit("campaign_members", f"{campaign}|{new}", a, get(new))
