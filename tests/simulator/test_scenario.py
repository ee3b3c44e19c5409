"""Scenarios are data: they validate, and a bad one names the bad field."""
import tomllib

import pytest

from crmlab.simulator import ScenarioError, builtin_scenarios, load_scenario
from crmlab.simulator.scenario import SCENARIO_DIR


@pytest.mark.parametrize("name", builtin_scenarios())
def test_every_builtin_scenario_validates(name):
    s = load_scenario(name)
    assert s.scenario.id == name
    assert abs(sum(k.share for k in s.customer_kinds) - 1) < 1e-9


def test_education_services_has_the_four_b2b_kinds_of_the_case():
    s = load_scenario("education_services")
    assert {k.id for k in s.customer_kinds} == {"university", "k12", "vocational", "training"}
    assert s.scenario.profit_threshold == 1500  # the case's threshold, in yuan


def _teams(*teams):
    """An edit that gives the education scenario specialist teams: (skill, reasons) pairs."""
    rows = ", ".join(f'{{ skill = "{k}", name_zh = "专席", name_en = "Desk", agents = 1, reasons = {r} }}' for k, r in teams)
    return lambda t: t.replace("managers = 1\n", f"managers = 1\nteams = [{rows}]\n")


def _broken(tmp_path, edit):
    text = (SCENARIO_DIR / "education_services.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(edit(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace("agents = 3", "agents = 0"), "service.agents"),
    (lambda t: t.replace("unit_cost = 30000", "unit_cost = 90000"), "products.0"),
    (lambda t: t.replace("P01 = 0.25", "P99 = 0.25"), "customer_kinds.0.product_mix.P99"),
    (lambda t: t.replace('dist = "gamma", mean = 8, shape = 3', 'dist = "gamma", mean = -8, shape = 3'),
     "customer_kinds.0.orders_per_year.mean"),
    (lambda t: t.replace('dist = "gamma", mean = 8', 'dist = "weibull", mean = 8'),
     "customer_kinds.0.orders_per_year"),
    (lambda t: t.replace("share = 0.15", "share = 0.35"), "customer_kinds.share"),
    (lambda t: t.replace('currency = "CNY"', 'currency = "yuan"'), "scenario.currency"),
    (lambda t: t.replace('start_date = "2025-01-01"', 'start_date = "someday"'), "scenario.start_date"),
    (lambda t: t + "\n[extra]\nx = 1\n", "extra"),
    (lambda t: t.replace("close_hour = 17.5", "close_hour = 8"), "service"),
    (lambda t: t.replace("staffing = [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3,", "staffing = [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 7,"),
     "service.staffing.10"),
    (lambda t: t.replace("kind_mix = { k12 = 0.4, training = 0.6 }", "kind_mix = { k12 = 0.4, gym = 0.6 }"),
     "acquisition.sources.1.kind_mix.gym"),
    (lambda t: t.replace('high = "compensation" }', 'high = "free_lunch" }'), "complaints.policy.high"),
    (lambda t: t.replace("advance = { qualified = 0.7,", "advance = { qualified = 1.7,"), "sales.advance.qualified"),
    (lambda t: t.replace('target = ["k12", "training"]', 'target = ["k12", "gyms"]'), "campaigns.1.target"),
    (lambda t: t.replace("discount = 0.20", "discount = 1.20"), "campaigns.2.discount"),
    (lambda t: t.replace("dropout = { a = 1, b = 60 }", "dropout = { a = 1, b = -60 }"),
     "customer_kinds.0.dropout.b"),
    (lambda t: t.replace("month = [0.8,", "month = [0.8, 0.8,"), "seasonality.month"),
    (lambda t: t.replace("survey_response_rate = 0.4", "survey_response_rate = 1.4"),
     "satisfaction.survey_response_rate"),

    (lambda t: t.replace("negotiation = 0.65 }", "negotiation = 0.65 }\nstage_probability = { qualified = 0.2 }"),
     "sales.stage_probability.proposal"),
    (_teams(("care", '["complaint", "order"]'), ("sales", '["order"]')), "service.teams.1.reasons"),
    (_teams(("general", '["complaint"]')), "service.teams.0.skill"),
    (_teams(("care", '["refunds"]')), "service.teams.0.reasons.0"),
    (_teams(("all", '["inquiry", "order", "complaint", "technical", "billing"]')), "service.teams"),
])
def test_invalid_scenario_names_the_bad_field(tmp_path, edit, field):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_broken(tmp_path, edit))
    assert err.value.field == field
    assert f"'{field}'" in str(err.value)


def test_toml_syntax_error_is_reported_with_position(tmp_path):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_broken(tmp_path, lambda t: t.replace("agents = 3", "agents = = 3")))
    assert err.value.field == "(syntax)" and "line" in str(err.value)


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="education_services"):
        load_scenario("no_such_case")


def test_overrides_do_not_mutate_the_original():
    s = load_scenario("education_services")
    t = s.with_overrides(customers=10, locale="en_US")
    assert (s.scenario.customers, s.scenario.locale) == (120, "zh_CN")
    assert (t.scenario.customers, t.scenario.locale) == (10, "en_US")
    with pytest.raises(ScenarioError, match="scenario.customers"):
        s.with_overrides(customers=-1)


def test_scenario_file_is_plain_toml():
    data = tomllib.loads((SCENARIO_DIR / "education_services.toml").read_text(encoding="utf-8"))
    assert data["service"]["handle_minutes"]["dist"] == "lognormal"
