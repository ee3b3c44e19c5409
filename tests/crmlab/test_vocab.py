"""The vocabulary is declared once (crmlab/vocab.py): the database's CHECK constraints, the scenario schema and the
CRM API agree with it, and every value has a label in both languages."""
from __future__ import annotations

import re

import pytest
from paths import REPO as ROOT
from pydantic import ValidationError

from crmlab import vocab
from crmlab.crm.messages import LANGS, Label
from crmlab.simulator.scenario import Scenario, load_scenario

# column (as named in the schema) -> the vocabulary its CHECK (… IN (…)) must list, in this order
COLUMN_VOCAB = {
    ("leads", "status"): vocab.LEAD_STATUSES, ("opportunities", "deal_type"): vocab.DEAL_TYPES,
    ("opportunities", "stage"): vocab.STAGES, ("stage_history", "stage"): vocab.STAGES,
    ("latent_accounts", "value_tier"): vocab.VALUE_TIERS, ("latent_accounts", "churn_cause"): vocab.CHURN_CAUSES,
    ("activities", "type"): vocab.ACTIVITY_TYPES, ("orders", "source"): vocab.ORDER_SOURCES,
    ("tickets", "channel"): vocab.CHANNELS, ("tickets", "reason"): vocab.REASONS, ("calls", "reason"): vocab.REASONS,
    ("routing", "reason"): vocab.REASONS,
    ("complaints", "severity"): vocab.SEVERITIES, ("complaints", "recovery_action"): vocab.RECOVERY_ACTIONS,
    ("agents", "role"): vocab.SERVICE_ROLES, ("tickets", "status"): vocab.TICKET_STATUSES,
    ("followups", "status"): vocab.FOLLOWUP_STATUSES, ("sla_policy", "priority"): vocab.PRIORITIES,
}


def schema_lists() -> dict[tuple[str, str], tuple]:
    """(table, column) -> the values of ``column … CHECK (column IN (…))`` in both schema files."""
    found = {}
    for sql in (ROOT / "simulator" / "schema.sql", ROOT / "crm" / "schema_ops.sql", ROOT / "simulator" / "truth_schema.sql"):
        table = None
        for line in sql.read_text().splitlines():
            m = re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?\"?(\w+)", line)
            if m:
                table = m[1]
            m = re.match(r"\s*(\w+)\s+\w+.*CHECK \((\w+) IN \(([^)]*)\)\)", line)
            if m and m[1] == m[2] and "'" in m[3]:
                found[(table, m[1])] = tuple(v.strip().strip("'") for v in m[3].split(","))
    return found


def test_every_enumerated_column_is_the_vocabulary():
    found = schema_lists()
    assert found, "no CHECK (… IN (…)) found: has the schema's layout changed?"
    unknown = {k: v for k, v in found.items() if v not in {tuple(x) for x in COLUMN_VOCAB.values()}}
    assert not unknown, f"an enumeration in the schema that crmlab/vocab.py does not declare: {unknown}"
    for key, values in COLUMN_VOCAB.items():
        if key in found:
            assert found[key] == values, (key, found[key], values)


def test_the_schema_lists_each_vocabulary_the_tests_name():
    found = schema_lists()
    missing = [k for k in COLUMN_VOCAB if k not in found]
    assert not missing, f"named here but not found in the schema (renamed table or column?): {missing}"


@pytest.mark.parametrize("kind, values", [("stage", vocab.STAGES), ("priority", vocab.PRIORITIES),
                                          ("channel", vocab.CHANNELS), ("reason", vocab.REASONS),
                                          ("severity", vocab.SEVERITIES), ("activity", vocab.ACTIVITY_TYPES),
                                          ("lead_status", vocab.LEAD_STATUSES), ("role", vocab.SERVICE_ROLES),
                                          ("followup_status", vocab.FOLLOWUP_STATUSES), ("sla", vocab.SLA_STATUSES)])
def test_every_value_has_a_label_in_both_languages(kind, values):
    for value in values:
        texts = [Label(kind, value).text(lang) for lang in LANGS]
        assert texts[0] != value and texts[1], (kind, value, texts)   # the Chinese is not the raw code
        assert len(set(texts)) == 2, (kind, value, texts)


def test_the_scenario_schema_refuses_a_value_outside_the_vocabulary():
    base = load_scenario("airline_service").model_dump(mode="json")
    base["customer_kinds"][0]["channels"] = {"carrier_pigeon": 1.0}
    with pytest.raises(ValidationError) as err:
        Scenario.model_validate(base)
    assert "carrier_pigeon" in str(err.value)
