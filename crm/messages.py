"""Every learner-facing sentence of the CRM API, in 简体中文 and English, in one table.

A message names the record and the rule it breaks. Values that are codes in the database (a stage,
a status, a table) are passed as :class:`Label` and shown in the learner's language; ids and
numbers are shown as they are. Adding a language means adding one column here, not editing code.
"""
from __future__ import annotations

from dataclasses import dataclass

LANGS = ("zh_CN", "en_US")

# code -> (简体中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # records and values
    "not_found": ("{what} {id} 不存在。",
                  "{what} {id} does not exist."),
    "merged_away": ("{what} {id} 已合并到 {into}，请对 {into} 操作（规则：被合并的记录只保留作历史）。",
                    "{what} {id} was merged into {into}; work on {into} instead (rule: a merged record is "
                    "kept only as history)."),
    "required": ("{field}不能为空。",
                 "{field} must not be empty."),
    "unknown_value": ("{field}“{value}”无效，可选：{allowed}。",
                      "{field} '{value}' is not valid; choose one of: {allowed}."),
    "bad_email": ("电子邮箱“{value}”格式不正确（应如 name@example.com）。",
                  "The e-mail address '{value}' is not valid (expected something like name@example.com)."),
    "bad_phone": ("电话“{value}”格式不正确（7–15 位数字，可含 +、-、空格和括号）。",
                  "The phone number '{value}' is not valid (7–15 digits; +, -, spaces and brackets allowed)."),
    "bad_time": ("时间“{value}”格式不正确（应为 YYYY-MM-DD HH:MM:SS 或 YYYY-MM-DD）。",
                 "The time '{value}' is not valid (expected YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)."),
    "not_positive": ("{field}必须大于 0（收到 {value}）。",
                     "{field} must be greater than 0 (got {value})."),
    "unknown_field": ("{what}没有可修改的字段“{field}”，可修改：{allowed}。",
                      "{what} has no editable field '{field}'; editable: {allowed}."),
    "clock_backwards": ("不能把时钟拨回到 {value}：最近一次变更发生在 {last}（规则：CRM 的时间不倒流）。",
                        "The clock cannot be set back to {value}: the latest change happened at {last} "
                        "(rule: time in the CRM does not run backwards)."),
    "in_future": ("{field} {value} 晚于当前时间 {now}：不能登记尚未发生的事。",
                  "{field} {value} is later than the current time {now}: you cannot log what has not "
                  "happened yet."),
    "in_past": ("{field} {value} 早于当前时间 {now}：跟进和提醒必须安排在将来。",
                "{field} {value} is earlier than the current time {now}: follow-ups and reminders must be "
                "scheduled in the future."),
    "constraint": ("数据库拒绝了这次修改（{detail}），未做任何改动。",
                   "The database refused this change ({detail}); nothing was changed."),
    # accounts and contacts
    "duplicate_account": ("客户“{name}”（{city}）可能与已有客户 {existing}“{existing_name}”重复（规则：先查重，"
                          "确认不是同一单位再用 allow_duplicate=True 建档）。",
                          "Account '{name}' ({city}) looks like a duplicate of existing account {existing} "
                          "'{existing_name}' (rule: check for duplicates first; if it really is another "
                          "organisation, create it with allow_duplicate=True)."),
    "merge_self": ("不能把 {what} {id} 合并到它自己。",
                   "{what} {id} cannot be merged into itself."),
    "contact_other_account": ("联系人 {contact} 属于客户 {actual}，不属于 {expected}。",
                              "Contact {contact} belongs to account {actual}, not to {expected}."),
    "merge_contacts_accounts": ("联系人 {a} 与 {b} 属于不同客户（{acc_a}、{acc_b}）：请先合并客户，再合并联系人。",
                                "Contacts {a} and {b} belong to different accounts ({acc_a}, {acc_b}): merge "
                                "the accounts first, then the contacts."),
    "grade_no_orders": ("客户 {id} 没有订单，无法按价值分级（规则：AA/AB/BA/BB 依据销售额和单位利润）。",
                        "Account {id} has no orders and cannot be value-graded (rule: AA/AB/BA/BB come from "
                        "revenue and profit per unit)."),
    # leads
    "lead_status": ("线索 {id} 当前状态为“{status}”，不能{action}（规则：{rule}）。",
                    "Lead {id} is '{status}' and cannot be {action} (rule: {rule})."),
    # opportunities and quotes
    "stage_jump": ("机会 {id} 不能从“{current}”直接进入“{target}”（规则：阶段依次推进 {path}；丢单可在任何未结阶段）。",
                   "Opportunity {id} cannot move from '{current}' to '{target}' (rule: stages advance one at a "
                   "time, {path}; an open opportunity can be lost at any stage)."),
    "opportunity_closed": ("机会 {id} 已于 {closed_at} 结束（{stage}），不能再修改。",
                           "Opportunity {id} was closed ({stage}) at {closed_at} and cannot be changed."),
    "lost_reason": ("机会 {id} 标记为丢单时必须填写丢单原因。",
                    "Opportunity {id} can only be marked lost with a reason."),
    "negotiation_needs_quote": ("机会 {id} 还没有报价，不能进入“谈判”（规则：先在“方案”阶段报价）。",
                                "Opportunity {id} has no quote yet and cannot enter 'negotiation' (rule: "
                                "quote in the 'proposal' stage first)."),
    "quote_stage": ("机会 {id} 处于“{stage}”阶段，不能报价（规则：只在“方案”或“谈判”阶段报价）。",
                    "Opportunity {id} is in stage '{stage}' and cannot be quoted (rule: quotes are made in "
                    "the 'proposal' or 'negotiation' stage)."),
    "discount_limit": ("机会 {id} 的折扣 {discount:.1%} 超出上限 {limit:.1%}（规则：更大折扣需经理审批）。",
                       "The discount of {discount:.1%} on opportunity {id} exceeds the limit of {limit:.1%} "
                       "(rule: a larger discount needs a manager's approval)."),
    # activities and follow-ups
    "followup_status": ("跟进 {id} 已是“{status}”，不能再{action}。",
                        "Follow-up {id} is already '{status}' and cannot be {action}."),
    "opportunity_other_account": ("机会 {opportunity} 属于客户 {actual}，不属于 {expected}。",
                                  "Opportunity {opportunity} belongs to account {actual}, not to {expected}."),
    # tickets
    "ticket_state": ("工单 {id} 当前为“{status}”，不能{action}（规则：{rule}）。",
                     "Ticket {id} is '{status}' and cannot be {action} (rule: {rule})."),
    "ticket_unassigned": ("工单 {id} 尚未分配处理人，不能{action}（规则：先分配给坐席或主管）。",
                          "Ticket {id} has no one assigned and cannot be {action} (rule: assign it to an agent "
                          "or a manager first)."),
    "escalated_needs_manager": ("工单 {id} 已升级，只能分配给主管；{agent} 是坐席。",
                                "Ticket {id} is escalated and can only be assigned to a manager; {agent} is an "
                                "agent."),
    "not_manager": ("{agent} 不是主管：升级的工单只能交给主管。",
                    "{agent} is not a manager: escalated tickets go to managers only."),
    "no_manager": ("数据库中没有主管，工单无法升级。",
                   "There is no manager in the database, so the ticket cannot be escalated."),
    # complaints
    "complaint_exists": ("工单 {ticket} 已登记投诉 {complaint}（规则：一张工单一条投诉）。",
                         "Ticket {ticket} already has complaint {complaint} (rule: one complaint per ticket)."),
    "complaint_reason": ("工单 {ticket} 的原因是“{reason}”，不是投诉（规则：投诉登记在原因为“投诉”的工单上）。",
                         "Ticket {ticket} is about '{reason}', not a complaint (rule: complaints are registered "
                         "on tickets whose reason is 'complaint')."),
    "complaint_closed": ("投诉 {id} 已于 {closed_at} 结案。",
                         "Complaint {id} was already closed at {closed_at}."),
    "complaint_ticket_open": ("投诉 {id} 的工单 {ticket} 尚未解决，不能结案（规则：先解决工单）。",
                              "Complaint {id} cannot be closed while its ticket {ticket} is not resolved (rule: "
                              "resolve the ticket first)."),
    # campaigns
    "campaign_exists": ("活动编号 {id} 已存在。",
                        "Campaign id {id} is already used."),
    "campaign_dates": ("活动 {id} 的结束日期 {ends_on} 早于开始日期 {starts_on}。",
                       "Campaign {id} ends ({ends_on}) before it starts ({starts_on})."),
    "campaign_over": ("活动 {id} 已于 {ends_on} 结束，不能再{action}。",
                      "Campaign {id} ended on {ends_on}; you can no longer {action}."),
    "already_enrolled": ("客户 {account} 已是活动 {campaign} 的成员（规则：同一客户不能重复加入）。",
                         "Account {account} is already a member of campaign {campaign} (rule: no double "
                         "enrolment)."),
    "not_enrolled": ("客户 {account} 不是活动 {campaign} 的成员，不能登记响应。",
                     "Account {account} is not a member of campaign {campaign}, so no response can be "
                     "recorded."),
    "already_responded": ("客户 {account} 已于 {responded_at} 响应活动 {campaign}。",
                          "Account {account} already responded to campaign {campaign} at {responded_at}."),
    "order_other_account": ("订单 {order} 属于客户 {actual}，不属于 {expected}。",
                            "Order {order} belongs to account {actual}, not to {expected}."),
    # state checkpoints (crm.checks): what is still missing
    "chk_ok": ("已达成。", "Done."),
    "chk_field": ("{what} {id} 的{attr}应为“{want}”，现在是“{have}”。",
                  "{what} {id}: {attr} should be '{want}' but is '{have}'."),
    "chk_count": ("{what} {id} 的{attr}应为 {want}，现在是 {have}。",
                  "{what} {id} should have {want} {attr}; it has {have}."),
    "chk_min_quote": ("机会 {id} 的最新报价应不低于 {want}，现在是 {have}。",
                      "Opportunity {id}: the latest quote should be at least {want}; it is {have}."),
    "chk_max_discount": ("机会 {id} 的最新报价折扣应不超过 {want:.1%}，现在是 {have:.1%}。",
                         "Opportunity {id}: the latest quote's discount should be at most {want:.1%}; it is "
                         "{have:.1%}."),
    "chk_none": ("{what}：没有符合条件的记录（{detail}）。",
                 "{what}: no record matches ({detail})."),
    "chk_rows": ("表 {table} 中符合 {detail} 的记录有 {have} 条，应为 {want} 条。",
                 "Table {table} has {have} rows matching {detail}; expected {want}."),
    "chk_audit": ("操作日志中没有对 {record} 执行“{operation}”的记录。",
                  "The audit log has no '{operation}' on {record}."),
}

# (namespace, code) -> (简体中文, English): names of records, fields, stages, statuses, actions
LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("record", "accounts"): ("客户", "Account"),
    ("record", "contacts"): ("联系人", "Contact"),
    ("record", "leads"): ("线索", "Lead"),
    ("record", "opportunities"): ("机会", "Opportunity"),
    ("record", "quotes"): ("报价", "Quote"),
    ("record", "activities"): ("活动记录", "Activity"),
    ("record", "followups"): ("跟进", "Follow-up"),
    ("record", "tickets"): ("工单", "Ticket"),
    ("record", "complaints"): ("投诉", "Complaint"),
    ("record", "campaigns"): ("营销活动", "Campaign"),
    ("record", "orders"): ("订单", "Order"),
    ("record", "reps"): ("销售代表", "Sales rep"),
    ("record", "agents"): ("客服人员", "Service staff member"),
    ("record", "lead_sources"): ("线索来源", "Lead source"),
    ("field", "name"): ("名称", "The name"),
    ("field", "city"): ("城市", "The city"),
    ("field", "address"): ("地址", "The address"),
    ("field", "kind"): ("客户类型", "The customer kind"),
    ("field", "title"): ("职务", "The job title"),
    ("field", "company"): ("单位名称", "The company"),
    ("field", "contact_name"): ("联系人姓名", "The contact's name"),
    ("field", "email"): ("电子邮箱", "The e-mail address"),
    ("field", "reason"): ("原因", "The reason"),
    ("field", "subject"): ("主题", "The subject"),
    ("field", "segment"): ("细分", "The segment"),
    ("field", "grade"): ("价值等级", "The value grade"),
    ("field", "stage"): ("阶段", "The stage"),
    ("field", "type"): ("活动类型", "The activity type"),
    ("field", "channel"): ("渠道", "The channel"),
    ("field", "priority"): ("优先级", "The priority"),
    ("field", "cause"): ("投诉原因", "The cause"),
    ("field", "severity"): ("严重程度", "The severity"),
    ("field", "recovery_action"): ("补救措施", "The recovery action"),
    ("field", "deal_type"): ("机会类型", "The deal type"),
    ("field", "amount"): ("金额", "The amount"),
    ("field", "list_amount"): ("标价金额", "The list amount"),
    ("field", "discount"): ("折扣", "The discount"),
    ("field", "probability"): ("赢单概率", "The win probability"),
    ("field", "recovery_cost"): ("补救成本", "The recovery cost"),
    ("field", "cost_per_contact"): ("每次触达成本", "The cost per contact"),
    ("field", "campaign_id"): ("活动编号", "The campaign id"),
    ("field", "user"): ("操作人", "The user"),
    ("field", "done_at"): ("活动时间", "The activity time"),
    ("field", "due_at"): ("到期时间", "The due time"),
    ("field", "merge_list"): ("被合并记录", "The records to merge"),
    ("attr", "status"): ("状态", "status"),
    ("attr", "assigned_role"): ("处理人角色", "the handler's role"),
    ("attr", "assigned_to"): ("处理人", "handler"),
    ("attr", "escalated"): ("是否升级", "escalated"),
    ("attr", "answered"): ("是否已答复", "answered"),
    ("attr", "merged_into"): ("合并去向", "merged into"),
    ("attr", "stage"): ("阶段", "stage"),
    ("attr", "lost_reason"): ("丢单原因", "reason lost"),
    ("attr", "grade"): ("价值等级", "value grade"),
    ("attr", "segment"): ("细分", "segment"),
    ("attr", "cause"): ("投诉原因", "cause"),
    ("attr", "severity"): ("严重程度", "severity"),
    ("attr", "recovery_action"): ("补救措施", "recovery action"),
    ("attr", "closed"): ("是否结案", "closed"),
    ("attr", "responded"): ("是否响应", "responded"),
    ("attr", "member"): ("是否为成员", "member"),
    ("attr", "account"): ("所属客户", "account"),
    ("attr", "orders"): ("订单数", "orders"),
    ("attr", "tickets"): ("工单数", "tickets"),
    ("attr", "contacts"): ("联系人数", "contacts"),
    ("attr", "opportunities"): ("机会数", "opportunities"),
    ("role", "agent"): ("坐席", "agent"),
    ("role", "manager"): ("主管", "manager"),
    ("value", "none"): ("无", "none"),
    ("value", "yes"): ("是", "yes"),
    ("value", "no"): ("否", "no"),
    ("value", "no_quote"): ("无报价", "no quote"),
    ("stage", "qualified"): ("已确认", "qualified"),
    ("stage", "proposal"): ("方案", "proposal"),
    ("stage", "negotiation"): ("谈判", "negotiation"),
    ("stage", "won"): ("赢单", "won"),
    ("stage", "lost"): ("丢单", "lost"),
    ("lead_status", "open"): ("待跟进", "open"),
    ("lead_status", "qualified"): ("合格", "qualified"),
    ("lead_status", "disqualified"): ("不合格", "disqualified"),
    ("lead_status", "converted"): ("已转化", "converted"),
    ("ticket_status", "open"): ("处理中", "open"),
    ("ticket_status", "resolved"): ("已解决", "resolved"),
    ("ticket_status", "closed"): ("已关闭", "closed"),
    ("ticket_status", "abandoned"): ("客户放弃", "abandoned"),
    ("followup_status", "open"): ("待办", "open"),
    ("followup_status", "done"): ("已完成", "done"),
    ("followup_status", "cancelled"): ("已取消", "cancelled"),
    ("reason", "inquiry"): ("咨询", "inquiry"),
    ("reason", "order"): ("订单", "order"),
    ("reason", "complaint"): ("投诉", "complaint"),
    ("reason", "technical"): ("技术", "technical"),
    ("reason", "billing"): ("账务", "billing"),
    ("action", "qualify"): ("确认合格", "qualified"),
    ("action", "disqualify"): ("判为不合格", "disqualified"),
    ("action", "convert"): ("转化", "converted"),
    ("action", "assign"): ("分配", "assigned"),
    ("action", "escalate"): ("升级", "escalated"),
    ("action", "answer"): ("答复", "answered"),
    ("action", "resolve"): ("解决", "resolved"),
    ("action", "close"): ("关闭", "closed"),
    ("action", "complete"): ("完成", "completed"),
    ("action", "cancel"): ("取消", "cancelled"),
    ("action", "enrol"): ("加入成员", "enrol members"),
    ("action", "respond"): ("登记响应", "record responses"),
    ("rule", "lead_qualify"): ("只有待跟进的线索可以确认合格", "only an open lead can be qualified"),
    ("rule", "lead_disqualify"): ("已转化或已判不合格的线索不能再判不合格",
                                  "a converted or disqualified lead cannot be disqualified"),
    ("rule", "lead_convert"): ("线索须先确认合格才能转化", "a lead must be qualified before it is converted"),
    ("rule", "ticket_open"): ("只有处理中的工单可以这样操作", "only an open ticket can be handled this way"),
    ("rule", "ticket_close"): ("工单须先解决再关闭", "a ticket must be resolved before it is closed"),
    ("rule", "ticket_escalated"): ("工单只能升级一次", "a ticket is escalated only once"),
}


@dataclass(frozen=True)
class Label:
    """A code shown in the reader's language, e.g. ``Label("stage", "won")`` → 赢单 / won."""
    namespace: str
    code: str

    def text(self, lang: str) -> str:
        pair = LABELS.get((self.namespace, self.code))
        return self.code if pair is None else pair[LANGS.index(lang)]


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    return lang


def render(code: str, lang: str, params: dict) -> str:
    """The message ``code`` in ``lang`` with its parameters filled in (labels translated)."""
    shown = {}
    for key, value in params.items():
        if isinstance(value, Label):
            value = value.text(lang)
        elif isinstance(value, (list, tuple)):
            value = ("、" if lang == "zh_CN" else ", ").join(
                v.text(lang) if isinstance(v, Label) else str(v) for v in value)
        shown[key] = value
    return MESSAGES[code][LANGS.index(lang)].format(**shown)
