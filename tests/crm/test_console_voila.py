"""The CRM console served by Voila as a page of its own (no code shown): a person who does not
program works the inbox there, and the change reaches the database through the API."""
from __future__ import annotations

import sqlite3

import pytest
from browser import MARKS, artifacts, chromium, voila_page

from crmlab.crm import CRM

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytest.importorskip("voila", reason="voila is not installed")


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """Voila serving a one-cell notebook that opens the console on a small simulated database;
    yields (url, folder, an open ticket nobody has taken)."""
    from crmlab.simulator import simulate
    root, home = tmp_path_factory.mktemp("voila"), tmp_path_factory.mktemp("voila-home")
    simulate("education_services", 5, root / "crm.db", customers=150)
    with CRM.open(root / "crm.db", user="teacher") as crm:   # a ticket for the page to work on
        account, contact = crm._con.execute("SELECT account_id, min(contact_id) FROM contacts").fetchone()
        ticket = crm.open_ticket(account, contact, "inquiry")
    source = "from crmlab.crm.console import Console\nConsole(\"crm.db\", user=\"student01\", lang=\"zh_CN\")"
    with voila_page(root, home, "console.ipynb", source) as url:
        yield url, root, ticket


def test_the_console_works_as_a_voila_page(voila, tmp_path_factory):
    url, root, ticket = voila
    with chromium(tmp_path_factory.mktemp("chromium")) as context:
        page = context.new_page()
        page.goto(url)
        sync_api.expect(page.locator(".crm-console")).to_be_visible(timeout=90_000)
        assert page.locator(".jp-InputArea, .jp-CodeCell .jp-Editor").count() == 0   # no code on the page
        page.locator(".crm-tabs > .lm-TabBar .lm-TabBar-tab", has_text="工单收件箱").click()
        select = page.locator(".crm-ticket_select select")
        sync_api.expect(select.locator("option", has_text=ticket).first).to_be_attached(timeout=20_000)
        select.select_option(label=[t for t in select.locator("option").all_inner_texts() if t.startswith(ticket)][0])
        page.locator("button.crm-assign").click()   # the first agent in the list
        sync_api.expect(page.locator(".crm-status")).to_contain_text(f"已完成：分配工单 {ticket}", timeout=20_000)
        page.locator(".crm-console").screenshot(path=artifacts(tmp_path_factory) / "console-voila.png")
    con = sqlite3.connect(root / "crm.db")
    try:
        assigned, = con.execute("SELECT assigned_to FROM tickets WHERE ticket_id = ?", (ticket,)).fetchone()
        audited = con.execute("SELECT count(*) FROM audit_log WHERE operation = 'ticket.assign' AND user = 'student01'"
                              ).fetchone()[0]
    finally:
        con.close()
    assert assigned and audited == 1
    assert (root / "crm_actions.jsonl").read_text(encoding="utf-8").count("ticket.assign") == 1
