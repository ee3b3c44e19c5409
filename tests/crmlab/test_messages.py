"""crmlab's one message mechanism (crmlab/messages.py) and every catalogue declared with it: each code of each
catalogue has a text in every language of crmlab.vocab.LOCALES with the same placeholders, every code the
source gives is declared, and a message renders in the reader's language from its code and parameters."""
from __future__ import annotations

import inspect

import pytest
from codes_used import codes_given

import crmlab.crm.messages  # noqa: F401  (imported for the catalogues they declare)
import crmlab.grading.classroom.labels  # noqa: F401
import crmlab.grading.classroom.reasons  # noqa: F401
import crmlab.roleplay.messages  # noqa: F401
from crmlab.crm import errors
from crmlab.crm.messages import Label
from crmlab.messages import LANGS, LIST_SEPARATOR, SCRIPT, Catalogue, catalogues, split_bilingual
from crmlab.vocab import LOCALES


# what the CRM, the role-play and the grader declare (more may come: every registered one is checked)
DECLARED = {"crm", "crm.labels", "roleplay", "roleplay.moves", "roleplay.roles", "roleplay.ends", "roleplay.mood",
            "grading.reasons", "grading.refusals", "grading.words", "grading.statuses", "grading.verdicts"}


def test_the_crm_the_role_play_and_the_grader_declare_their_catalogues_in_the_vocabularys_languages():
    assert LANGS == LOCALES
    assert set(LIST_SEPARATOR) == set(SCRIPT) == set(LOCALES)   # a new language says how it joins and is written
    assert DECLARED <= set(catalogues()), DECLARED - set(catalogues())


@pytest.mark.parametrize("name", sorted(catalogues()))
def test_every_code_has_every_language_with_the_same_placeholders(name):
    assert catalogues()[name].problems() == []


def test_the_check_names_a_missing_language_differing_placeholders_and_an_untranslated_text():
    bad = Catalogue("test.bad", {"fine": ("客户 {id}", "Account {id}"),
                                 "one_language": ("只有中文 {id}",),
                                 "empty": ("", "Empty"),
                                 "lost_value": ("客户 {id}", "Account"),
                                 "renamed_value": ("客户 {id}", "Account {account}"),
                                 "english_twice": ("Account {id}", "Account {id}"),
                                 "broken": ("客户 {id", "Account {id")}, register=False)
    problems = "\n".join(bad.problems())
    assert "test.bad" not in catalogues()
    for code in ("one_language", "empty", "lost_value", "renamed_value", "english_twice", "broken"):
        assert repr(code) in problems, (code, problems)
    assert "'fine'" not in problems
    assert "en_US ['account']" in problems and "zh_CN ['id']" in problems   # says which differ, and how


CRM_CALLS = {**{name: 0 for name, cls in vars(errors).items()
                if inspect.isclass(cls) and issubclass(cls, errors.DomainError)},
             "._err": 1, "render@messages": 0, ".say": 0, "Part": 1, "Problem": 1}


@pytest.mark.parametrize("catalogue, folders, calls, dict_key", [
    ("crm", ["crm"], CRM_CALLS, None),
    ("roleplay", ["roleplay", "grading", "course"], {"Refusal": 0}, None),
    ("grading.reasons", ["grading", "crmlab"], {".Reason": 0}, None),
    # "missing": a folder that is not there at all; grading gives no_submission for it, no refusal
    ("grading.refusals", ["grading"], {"_refuse": 3, "refusal": 0}, "why"),
    ("grading.words", ["grading"], {}, "word"),
])
def test_every_code_the_source_gives_is_declared(catalogue, folders, calls, dict_key):
    given = codes_given(folders, calls, dict_key)
    if catalogue == "grading.refusals":
        given.pop("missing", None)
    assert len(given) >= min(5, len(catalogues()[catalogue])), given   # found: a renamed call does not pass unseen
    unknown = {code: sorted(where) for code, where in given.items() if code not in catalogues()[catalogue]}
    assert not unknown, unknown


def test_a_message_renders_in_the_readers_language_with_labels_lists_and_formats():
    crm = catalogues()["crm"]
    params = {"field": Label("field", "stage"), "value": "x", "allowed": [Label("stage", "won"), "zz"]}
    assert crm.render("unknown_value", "zh_CN", params) == "阶段“x”无效，可选：赢单、zz。"
    assert crm.render("unknown_value", "en_US", params) == "The stage 'x' is not valid; choose one of: won, zz."
    assert "25.0%" in crm.render("discount_limit", "en_US", {"id": 3, "discount": 0.25, "limit": 0.1})
    with pytest.raises(ValueError, match="zh_CN"):
        crm.render("unknown_value", "fr_FR", params)
    with pytest.raises(KeyError):
        crm.render("no_such_code", "en_US", {})
    # the same error, raised in one language, read in the other
    err = errors.InvalidValue("bad_email", "en_US", value="a@")
    assert str(err) == "The e-mail address 'a@' is not valid (expected something like name@example.com)."
    assert err.message("zh_CN").startswith("电子邮箱“a@”格式不正确")


def test_a_role_play_refusal_shows_its_labels_in_both_languages():
    from crmlab.roleplay.messages import ROLES, Refusal
    err = Refusal("over_limit", role=(ROLES, "specialist"), limit="200", amount="500")
    assert err.message("zh_CN") == "客服专员最多可批准 200 元的补救，500 元超出权限（请升级给经理）。"
    assert err.message("en_US").startswith("The customer service specialist may approve remedies up to 200 yuan")
    assert str(err) == err.message("zh_CN") + " / " + err.message("en_US")


@pytest.mark.parametrize("message, parts", [
    ("有 3 个客户的等级不对 / 3 accounts are graded wrongly", ("有 3 个客户的等级不对", "3 accounts are graded wrongly")),
    ("缺少表（accounts）/ the table is missing", ("缺少表（accounts）", "the table is missing")),
    ("only English / with a slash", ("only English / with a slash", "")),
    ("只有中文", ("只有中文", "")),
])
def test_a_checks_bilingual_message_is_cut_where_the_chinese_ends(message, parts):
    assert split_bilingual(message) == parts
