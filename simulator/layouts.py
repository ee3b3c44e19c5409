"""Every table's columns, declared once, in order: the order of the rows the run keeps (simulator/records.py)
and the store writes (simulator/store.py), the column names its INSERTs give, and named places for the code
that reads a row back (``row[TICKETS.status]``, not ``row[8]``).

The CREATE statements stay in simulator/schema.sql and simulator/truth_schema.sql (what a database holds,
byte for byte: types, keys, CHECKs, comments); tests/simulator/test_store.py checks each declaration here against
``PRAGMA table_info`` of a database made from them, and that every table there is declared here.
"""
from __future__ import annotations


class Layout:
    """A table's columns in order; each column's name is also an attribute giving its place in a row."""

    def __init__(self, table: str, columns: str):
        self.table, self.columns = table, tuple(columns.split())
        for place, name in enumerate(self.columns):
            if name in self.__dict__ or hasattr(Layout, name):
                raise ValueError(f"{table}: column {name!r} is declared twice or shadows a Layout attribute")
            setattr(self, name, place)

    def __len__(self) -> int:
        return len(self.columns)

    def __repr__(self) -> str:
        return f"Layout({self.table!r}, {' '.join(self.columns)!r})"

    def places(self, *names: str) -> tuple[int, ...]:
        """The places of the columns ``names`` (an unknown name raises AttributeError, naming it)."""
        return tuple(getattr(self, n) for n in names)

    def row(self, **values) -> list:
        """A row from its values by column name, every column given once (a list: the run completes some of
        its rows later). For rows made now and then; the contacts' hot path makes its rows by place."""
        try:
            row = [values[name] for name in self.columns]
        except KeyError as e:
            raise ValueError(f"{self.table}: no value for column {e.args[0]!r}") from None
        if len(values) != len(row):
            raise ValueError(f"{self.table}: no column {sorted(set(values) - set(self.columns))}")
        return row

    def insert(self) -> str:
        """The INSERT statement of a whole row, naming the columns."""
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({', '.join('?' * len(self.columns))})"


def _declare(*layouts: Layout) -> dict[str, Layout]:
    return {x.table: x for x in layouts}


# -- the CRM database (simulator/schema.sql), in the schema's order ---------------------------------------
META = Layout("meta", "key value")
ACCOUNT_KINDS = Layout("account_kinds", "kind name_zh name_en")
LEAD_SOURCES = Layout("lead_sources", "source_id name_zh name_en cost_per_lead")
ACCOUNTS = Layout("accounts", "account_id name kind city address created_on source_id lead_id customer_since")
CONTACTS = Layout("contacts", "contact_id account_id name title phone email")
PRODUCTS = Layout("products", "product_id name_zh name_en category unit_price unit_cost")
CAMPAIGNS = Layout("campaigns", "campaign_id name_zh name_en channel starts_on ends_on offer_zh offer_en discount "
                                "cost_per_contact")
REPS = Layout("reps", "rep_id name")
LEADS = Layout("leads", "lead_id source_id kind company contact_name phone created_at status qualified_at account_id "
                        "cost")
OPPORTUNITIES = Layout("opportunities", "opportunity_id account_id lead_id rep_id deal_type amount created_at stage "
                                        "closed_at lost_reason won_amount probability expected_close")
STAGE_HISTORY = Layout("stage_history", "opportunity_id stage entered_at")
QUOTES = Layout("quotes", "quote_id opportunity_id quoted_at list_amount discount amount valid_until")
ACTIVITIES = Layout("activities", "activity_id rep_id account_id opportunity_id type done_at")
COMMISSIONS = Layout("commissions", "opportunity_id rep_id amount earned_at")
ORDERS = Layout("orders", "order_id account_id contact_id ordered_at source campaign_id opportunity_id")
ORDER_LINES = Layout("order_lines", "order_id line_no product_id quantity unit_price unit_cost")
CAMPAIGN_MEMBERS = Layout("campaign_members", "campaign_id account_id contacted_at responded_at order_id")
AGENTS = Layout("agents", "agent_id name role skill")
SKILLS = Layout("skills", "skill name_zh name_en")
ROUTING = Layout("routing", "reason skill")
TICKETS = Layout("tickets", "ticket_id account_id contact_id channel reason opened_at first_response_at resolved_at "
                            "status escalated agent_id first_contact_resolution")
CALLS = Layout("calls", "call_id ticket_id account_id contact_id agent_id reason priority arrived_at answered_at "
                        "callback_of abandoned ended_at")
COMPLAINTS = Layout("complaints", "complaint_id ticket_id account_id cause severity recovery_action recovery_cost "
                                  "registered_at closed_at")
CSAT = Layout("csat", "ticket_id account_id answered_at score")
SURVEYS = Layout("surveys", "survey_id year sent_at")
SURVEY_ITEMS = Layout("survey_items", "item_id text_zh text_en")
SURVEY_RESPONSES = Layout("survey_responses", "response_id survey_id account_id contact_id answered_at nps")
SURVEY_ANSWERS = Layout("survey_answers", "response_id item_id score")

CRM = _declare(META, ACCOUNT_KINDS, LEAD_SOURCES, ACCOUNTS, CONTACTS, PRODUCTS, CAMPAIGNS, REPS, LEADS, OPPORTUNITIES,
               STAGE_HISTORY, QUOTES, ACTIVITIES, COMMISSIONS, ORDERS, ORDER_LINES, CAMPAIGN_MEMBERS, AGENTS, SKILLS,
               ROUTING, TICKETS, CALLS, COMPLAINTS, CSAT, SURVEYS, SURVEY_ITEMS, SURVEY_RESPONSES, SURVEY_ANSWERS)

# -- the ground truth (simulator/truth_schema.sql) -----------------------------------------------------------
TRUTH_META = Layout("meta", "key value")
LATENT_ACCOUNTS = Layout("latent_accounts", "account_id value_tier order_rate_per_year dropout_p service_per_year "
                                            "campaign_propensity base_churn_hazard final_satisfaction churned_at "
                                            "churn_cause")
LATENT_REPS = Layout("latent_reps", "rep_id forecast_bias")
LATENT_OPPORTUNITIES = Layout("latent_opportunities", "opportunity_id win_probability")
LATENT_DUPLICATES = Layout("latent_duplicates", "account_id same_as")

TRUTH = _declare(TRUTH_META, LATENT_ACCOUNTS, LATENT_REPS, LATENT_OPPORTUNITIES, LATENT_DUPLICATES)
