"""Value grades and segments: an account's grade by hand or from the brief's 2×2 value grid
(:func:`value_grid`, shared with the checker), and named segments."""
from __future__ import annotations

import sqlite3

import pandas as pd

from crmlab.vocab import GRADES

from .core import Base, operation


class Grades(Base):
    """Grading and segmenting accounts."""

    @operation("account.grade")
    def set_grade(self, account: str, grade: str) -> dict:
        """Set an account's value grade by hand (AA, AB, BA, BB)."""
        self._get("accounts", account)
        return self._update("accounts", account, {"grade": self._choice(grade, GRADES, "grade")})

    @operation("account.segment")
    def set_segment(self, account: str, segment: str) -> dict:
        """Put an account in a named segment (free text, e.g. 'key account', '重点客户')."""
        self._get("accounts", account)
        return self._update("accounts", account, {"segment": self._text(segment, "segment")})

    @operation("account.grade_all")
    def grade_accounts(self) -> pd.DataFrame:
        """Grade every active account with orders on the brief's 2×2 value grid: volume class A if
        it belongs to the largest accounts that together make 80 % of revenue, profit class A if its
        average profit per unit sold exceeds ``meta.profit_threshold``. Accounts without orders are
        left ungraded. Returns the grid."""
        grid = value_grid(self._con, float(self.meta.get("profit_threshold", 0)))
        for row in grid.itertuples():
            if self._row("accounts", row.account_id)["grade"] != row.grade:
                self._update("accounts", row.account_id, {"grade": row.grade})
        return grid


def value_grid(con: sqlite3.Connection, profit_threshold: float) -> pd.DataFrame:
    """The brief's 2×2 grid for active accounts with orders: volume A for the largest accounts
    that together make 80 % of revenue (the one crossing 80 % included), profit A when the average
    profit per unit sold exceeds the threshold."""
    df = pd.read_sql_query(
        "SELECT o.account_id, sum(l.quantity * l.unit_price) AS revenue, "
        "sum(l.quantity * (l.unit_price - l.unit_cost)) AS profit, sum(l.quantity) AS units "
        "FROM orders o JOIN order_lines l USING (order_id) JOIN accounts a USING (account_id) "
        "WHERE a.merged_into IS NULL GROUP BY o.account_id", con)
    df = df.sort_values(["revenue", "account_id"], ascending=[False, True]).reset_index(drop=True)
    before = df["revenue"].cumsum().shift(fill_value=0)
    volume_a = before < 0.8 * df["revenue"].sum()
    df["profit_per_unit"] = (df["profit"] / df["units"]).round(2)
    profit_a = df["profit_per_unit"] > profit_threshold
    df["grade"] = [("A" if v else "B") + ("A" if p else "B") for v, p in zip(volume_a, profit_a)]
    df["revenue"] = df["revenue"].round(2)
    return df[["account_id", "revenue", "profit_per_unit", "grade"]].sort_values("account_id").reset_index(drop=True)
