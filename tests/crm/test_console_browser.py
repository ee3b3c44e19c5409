"""The CRM console in a real JupyterLab, clicked in headless Chromium: a student who does not
program resolves a ticket and merges a duplicate account, and the module's state checkpoint sees
it — on the database the kernel changed, and on a fresh copy after replaying the action log (what
grading does). The same checkpoint fails on the untouched database.

Needs Debian's chromium at /usr/bin/chromium (Playwright cannot download browsers here) and the
Python package playwright; skipped with the reason where either is missing. Screenshots go to
``$CRMLAB_ARTIFACTS`` (default: the test's temp folder); docs/screenshots/console-*.png are copies.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dbutil import dump
from browser import MARKS, artifacts, chromium, free_port, jupyter_env, lab_argv, serve

from crmlab.crm import CRM, check_state
from crmlab.crm.console import replay

TOKEN = "crmlab-browser-test"
SEED = 3  # education_services seed 3, 200 customers: holds same-name schools in one city
pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def prepare_day(db: Path) -> dict:
    """The morning's inbox, as a module would hand it out: new tickets opened over two days, so
    some are overdue, some due soon, some fine. Returns an unassigned overdue ticket and the
    most certain pair of duplicate accounts."""
    with CRM.open(db, user="teacher") as crm:
        contacts = crm._con.execute("SELECT account_id, min(contact_id) FROM contacts GROUP BY account_id "
                                    "ORDER BY account_id LIMIT 8").fetchall()
        # (priority, reason, hours until the next one): at the end they are 30, 26, 20, 12, 7, 2, 1 and 0
        # hours old — overdue, overdue, due soon (no answer after 20 of 24 h), overdue, due soon, ok, ok, ok
        plan = [("urgent", "complaint", 4), ("high", "technical", 6), ("low", "inquiry", 8), ("normal", "billing", 5),
                ("normal", "order", 5), ("high", "inquiry", 1), ("normal", "complaint", 1), ("urgent", "order", 0)]
        opened = []
        for (acc, contact), (priority, reason, hours) in zip(contacts, plan):
            opened.append(crm.open_ticket(acc, contact, reason, priority=priority))
            crm.advance(hours=hours)
        crm.assign_ticket(opened[1], "G02")
        pair = crm.find_duplicate_accounts().iloc[0]
        return {"ticket": opened[0], "survivor": pair["account_a"], "duplicate": pair["account_b"],
                "name": pair["name_a"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a folder with a simulated CRM database and a notebook opening the
    console; yields (url, folder, untouched copy of the database, the task: ticket and duplicates)."""
    from crmlab.simulator import simulate
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("home")
    db = root / "crm.db"
    simulate("education_services", SEED, db, customers=200)
    task = prepare_day(db)
    untouched = home / "untouched.db"
    shutil.copy(db, untouched)
    (root / "console.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [
            "from crmlab.crm.console import Console\n", "Console(\"crm.db\", user=\"student01\", lang=\"zh_CN\")"]}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(lab_argv(root, port, TOKEN), jupyter_env(home), url, TOKEN, home / "lab.log"):
        yield url, root, untouched, task


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as context:
        yield context.new_page()


def pick(page, css: str, starts_with: str) -> None:
    """Choose the option of an ipywidgets Select/Dropdown whose label starts with ``starts_with``."""
    select = page.locator(f"{css} select")
    sync_api.expect(select.locator("option", has_text=starts_with).first).to_be_attached(timeout=20_000)
    labels = select.locator("option").all_inner_texts()
    match = [label for label in labels if label.startswith(starts_with)]
    assert match, f"no option starting with {starts_with!r} in {css}: {labels[:10]}"
    select.select_option(label=match[0])


def status_says(page, text: str) -> None:
    sync_api.expect(page.locator(".crm-status")).to_contain_text(text, timeout=20_000)


def test_a_student_resolves_a_ticket_and_merges_a_duplicate_by_clicking(lab, page, tmp_path_factory):
    url, root, untouched, task = lab
    ticket, survivor, duplicate, name = task["ticket"], task["survivor"], task["duplicate"], task["name"]
    shots = artifacts(tmp_path_factory)
    conditions = [
        {"id": "resolved", "kind": "ticket_status", "ticket": ticket, "status": "resolved", "assigned_to": "G01"},
        {"id": "merged", "kind": "accounts_merged", "accounts": [survivor, duplicate]},
        {"id": "by_console", "kind": "audited", "operation": "ticket.resolve", "record": ticket, "user": "student01"},
    ]

    page.goto(f"{url}/lab/tree/console.ipynb?reset&token={TOKEN}")
    sync_api.expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator("li[data-command='runmenu:run-all']").click()
    sync_api.expect(page.locator(".crm-console")).to_be_visible(timeout=60_000)
    sync_api.expect(page.locator(".crm-funnel_chart")).to_be_attached(timeout=20_000)
    page.locator(".jp-Notebook").evaluate("n => n.scrollTop = n.querySelector('.crm-console').offsetTop - 10")

    # customer 360°: find the school, see its duplicate suggested, merge it into this account
    page.locator(".crm-search input").fill(name)
    page.locator(".crm-search input").press("Enter")
    pick(page, ".crm-results", survivor)
    sync_api.expect(page.locator(".crm-profile")).to_contain_text(survivor, timeout=20_000)
    pick(page, ".crm-merge_pick", duplicate)
    page.locator(".crm-details .lm-TabBar-tab", has_text="时间线").click()
    page.locator(".crm-console").screenshot(path=shots / "console-360.png")
    page.locator("button.crm-merge").click()
    status_says(page, f"已完成：合并客户 {survivor}")
    sync_api.expect(page.locator(".crm-profile")).to_contain_text(duplicate)  # listed under "merged in"

    # ticket inbox: an overdue ticket nobody has: assign it, try to close it (refused), resolve it
    page.locator(".crm-tabs > .lm-TabBar .lm-TabBar-tab", has_text="工单收件箱").click()
    pick(page, ".crm-ticket_select", ticket)
    sync_api.expect(page.locator(".crm-ticket_card")).to_contain_text("超时")
    page.locator("button.crm-close").click()
    status_says(page, f"工单 {ticket} 当前为“处理中”，不能关闭")
    pick(page, ".crm-assign_pick", "G01")
    page.locator("button.crm-assign").click()
    status_says(page, f"已完成：分配工单 {ticket}")
    page.locator(".crm-console").screenshot(path=shots / "console-inbox.png")
    page.locator("button.crm-resolve").click()
    status_says(page, f"已完成：解决工单 {ticket}")
    sync_api.expect(page.locator(".crm-ticket_card")).to_contain_text("已解决")

    page.locator(".crm-tabs > .lm-TabBar .lm-TabBar-tab", has_text="销售漏斗").click()
    sync_api.expect(page.locator(".crm-board")).to_contain_text("谈判")
    page.locator(".crm-console").screenshot(path=shots / "console-pipeline.png")

    page.locator(".crm-lang button", has_text="English").click()
    sync_api.expect(page.locator(".crm-board")).to_contain_text("negotiation")
    page.locator(".crm-tabs > .lm-TabBar .lm-TabBar-tab", has_text="Ticket inbox").click()
    page.locator(".crm-console").screenshot(path=shots / "console-inbox-en.png")

    # the kernel's database holds the target state; the untouched one does not
    done = root / "crm.db"
    result = check_state(done, conditions)
    assert result.passed, result.to_frame("en_US").to_string()
    before = check_state(untouched, conditions)
    assert not before["resolved"].passed and not before["merged"].passed and not before["by_console"].passed
    # grading: the fresh database plus the submitted action log gives the same database
    fresh = untouched.with_name("fresh.db")
    shutil.copy(untouched, fresh)
    report = replay(fresh, root / "crm_actions.jsonl")
    assert report.ok and len(report.applied) == 3, report.messages("en_US")
    assert check_state(fresh, conditions).passed
    assert dump(fresh) == dump(done)
