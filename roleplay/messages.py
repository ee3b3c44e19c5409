"""Every learner-facing word of the role-play, in 简体中文 and English, in one table (as ``crm/messages.py``).

The tables are catalogues of crmlab's one message mechanism (``crmlab/messages.py``). A parameter that is
a code of one of the label tables is passed as the pair ``(TABLE, code)`` (e.g. ``(ROLES, "manager")``) and
shown in the reader's language.
"""
from __future__ import annotations

from crmlab.messages import LANGS, Catalogue, check_lang, join

__all__ = ["LANGS", "MOVES", "ROLES", "ENDS", "MOOD", "MESSAGES", "CATALOGUE", "LABEL_CATALOGUES", "Refusal", "check_lang", "label",
           "render"]

# move kind -> (简体中文, English): what the student does
MOVES: dict[str, tuple[str, str]] = {
    "listen": ("耐心倾听", "Listen"),
    "ask": ("提问了解情况", "Ask questions"),
    "empathise": ("表示理解与共情", "Empathise"),
    "apologise": ("真诚道歉", "Apologise"),
    "explain_policy": ("解释规定与原因", "Explain the policy"),
    "offer_remedy": ("提出补救（金额）", "Offer a remedy (amount)"),
    "escalate": ("升级给经理", "Escalate to the manager"),
    "promise_followup": ("承诺回访跟进", "Promise a follow-up"),
    "confirm": ("确认客户是否满意", "Confirm the customer is satisfied"),
    "record": ("在 CRM 中登记", "Record it in the CRM"),
    "recommend": ("推荐合适方案", "Recommend a fitting option"),
    "upsell": ("推销升级产品", "Upsell"),
    "dismiss": ("敷衍打发", "Brush the customer off"),
    "argue": ("和客户争辩", "Argue with the customer"),
}

ROLES: dict[str, tuple[str, str]] = {
    "manager": ("客服经理", "customer service manager"),
    "specialist": ("客服专员", "customer service specialist"),
    "consultant": ("客服顾问", "customer service consultant"),
}

ENDS: dict[str, tuple[str, str]] = {
    "resolved": ("问题解决", "resolved"),
    "escalated": ("已升级", "escalated"),
    "leaves": ("客户离开", "the customer leaves"),
    "public": ("公开投诉", "public complaint"),
}

MOOD: dict[str, tuple[str, str]] = {
    "satisfaction": ("满意度", "satisfaction"),
    "trust": ("信任", "trust"),
    "anger": ("愤怒", "anger"),
}

# code -> (简体中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "role_not_allowed": ("本情景不能以“{role}”的身份演练，可选：{allowed}。",
                         "This scenario cannot be played as {role}; choose one of: {allowed}."),
    "move_not_for_role": ("“{move}”不在{role}的职权之内（规则：按岗位授权办事）。",
                          "'{move}' is not within the authority of the {role} (rule: act within your role)."),
    "move_not_here": ("此刻不能“{move}”，可选：{allowed}。",
                      "You cannot '{move}' at this point; you may: {allowed}."),
    "needs_first": ("此刻还不能“{move}”：需要先“{first}”。",
                    "You cannot '{move}' yet: '{first}' must come first."),
    "over_limit": ("{role}最多可批准 {limit} 元的补救，{amount} 元超出权限（请升级给经理）。",
                   "The {role} may approve remedies up to {limit} yuan; {amount} yuan is beyond that authority "
                   "(escalate to the manager)."),
    "needs_amount": ("“{move}”需要给出金额：amount=…", "'{move}' needs an amount: amount=…"),
    "bad_amount": ("金额必须是不小于 0 的数（收到 {amount}）。", "The amount must be a number ≥ 0 (got {amount})."),
    "unexpected_args": ("“{move}”不需要参数 {args}。", "'{move}' takes no arguments {args}."),
    "finished": ("对话已经结束（{end}）。", "The conversation is over ({end})."),
    "not_in_cast": ("“{member}”不在本组的角色分配里（本组：{cast}）。",
                    "'{member}' has no part in this group's cast (the cast: {cast})."),
    "bad_choice": ("策略的回答不是一个动作：{choice}（应为如 \"listen\" 或 \"offer_remedy:150\"）。",
                   "The policy's answer is not a move: {choice} (expected e.g. \"listen\" or \"offer_remedy:150\")."),
    "policy_failed": ("策略在第 {turn} 回合出错：{error}", "The policy failed at turn {turn}: {error}"),
    "out_of_patience": ("客户的耐心用完了。", "The customer has run out of patience."),
    "no_account": ("这次演练没有关联 CRM 中的客户：开始时请传入学生的数据库（db=…）。",
                   "This role-play is not linked to a customer in the CRM: start it with the student's database (db=…)."),
    "not_finished": ("对话还没有结束，不能登记结果。", "The conversation has not ended yet; there is no outcome to record."),
    "classify_first": ("登记投诉要先给它分类：cause=…（CRM 的投诉原因代码之一，见 complaint_causes 表）和 severity=…（{severities}）。",
                       "Recording a complaint means classifying it: cause=… (one of the CRM's complaint cause codes, table "
                       "complaint_causes) and severity=… ({severities})."),
    "replay_mismatch": ("回放第 {turn} 步得到的状态与记录不同：{field}。",
                        "Replaying turn {turn} gives a different state than recorded: {field}."),
    "replay_other": ("这份记录属于情景 {other}，不是 {scenario}。",
                     "This transcript belongs to scenario {other}, not {scenario}."),
}


# the label tables as catalogues (checked like the messages; the tables stay plain dicts for their readers)
LABEL_CATALOGUES = {name: Catalogue(name, table) for name, table in
                    (("roleplay.moves", MOVES), ("roleplay.roles", ROLES), ("roleplay.ends", ENDS),
                     ("roleplay.mood", MOOD))}


def label(table: dict, code: str, lang: str) -> str:
    texts = table.get(code)
    return code if texts is None else texts[LANGS.index(lang)]


def _show(value, lang: str):
    """A parameter in ``lang``: a ``(TABLE, code)`` pair as its label, a list joined, the rest as it is."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], dict):
        return label(value[0], value[1], lang)
    if isinstance(value, list):
        return join((label(v[0], v[1], lang) if isinstance(v, tuple) else str(v) for v in value), lang)
    return value


CATALOGUE = Catalogue("roleplay", MESSAGES, show=_show)


def render(code: str, lang: str, params: dict) -> str:
    """The message ``code`` in ``lang``; values given as (table, code) pairs are translated."""
    return CATALOGUE.render(code, lang, params)


class Refusal(ValueError):
    """A move the engine refuses; nothing changed. ``str(err)`` is bilingual, ``err.message(lang)`` one language."""

    def __init__(self, code: str, **params):
        self.code, self.params = code, params
        super().__init__(" / ".join(self.message(lang) for lang in LANGS))

    def message(self, lang: str = "zh_CN") -> str:
        return render(self.code, check_lang(lang), self.params)
