-- The student-visible CRM database. Latent traits (value tier, true churn time, propensities)
-- never appear here: they go to the ground-truth store (truth_schema.sql).
-- Timestamps are ISO-8601 text 'YYYY-MM-DD HH:MM:SS' in local business time; dates 'YYYY-MM-DD'.
-- Every table and column carries a comment "中文 / English": the data dictionary is generated from
-- them (simulator/dictionary.py), so a column without one fails a test.
-- The big tables are stored clustered on their key (WITHOUT ROWID): no second copy of every key in an
-- index beside the table; the small lookup tables keep a rowid, so they list in the scenario's order.

-- 元数据：场景、种子、币种、数据提取日 / Run metadata: scenario, seed, currency, snapshot date
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,  -- 键 / key
    value TEXT NOT NULL      -- 值 / value
);

-- 客户类型 / Customer kinds (segments as the company defines them)
CREATE TABLE account_kinds (
    kind    TEXT PRIMARY KEY,  -- 类型代码 / kind code
    name_zh TEXT NOT NULL,     -- 中文名称 / Chinese name
    name_en TEXT NOT NULL      -- 英文名称 / English name
);

-- 线索来源（渠道）/ Lead sources (channels) and their cost
CREATE TABLE lead_sources (
    source_id     TEXT PRIMARY KEY,                        -- 来源代码 / source code
    name_zh       TEXT NOT NULL,                           -- 中文名称 / Chinese name
    name_en       TEXT NOT NULL,                           -- 英文名称 / English name
    cost_per_lead REAL NOT NULL CHECK (cost_per_lead >= 0) -- 每条线索成本 / cost per lead
);

-- 客户（单位或个人）/ Accounts: organisations (B2B) or persons (B2C), customers and prospects
CREATE TABLE accounts (
    account_id     TEXT PRIMARY KEY CHECK (account_id GLOB 'A[0-9]*'),     -- 客户编号 / account id
    name           TEXT NOT NULL CHECK (length(name) > 0),                 -- 名称 / name
    kind           TEXT NOT NULL REFERENCES account_kinds (kind),          -- 客户类型 / customer kind
    city           TEXT NOT NULL,                                          -- 城市 / city
    address        TEXT NOT NULL,                                          -- 地址 / address
    created_on     TEXT NOT NULL CHECK (date(created_on) = created_on),    -- 建档日期 / record created on
    source_id      TEXT REFERENCES lead_sources (source_id),              -- 获客来源（期初客户为空）/ lead source (empty for accounts older than the data)
    lead_id        TEXT,                                                   -- 来源线索 / originating lead
    customer_since TEXT CHECK (customer_since IS NULL OR date(customer_since) = customer_since) -- 成为客户日期（潜在客户为空）/ customer since (empty: still a prospect)
) WITHOUT ROWID;

-- 联系人 / Contacts: the people at an account
CREATE TABLE contacts (
    contact_id TEXT PRIMARY KEY CHECK (contact_id GLOB 'C[0-9]*'),  -- 联系人编号 / contact id
    account_id TEXT NOT NULL REFERENCES accounts (account_id),      -- 所属客户 / account
    name       TEXT NOT NULL CHECK (length(name) > 0),              -- 姓名 / name
    title      TEXT NOT NULL,                                       -- 职务 / job title
    phone      TEXT NOT NULL,                                       -- 电话 / phone
    email      TEXT NOT NULL CHECK (email LIKE '%_@_%')             -- 电子邮箱 / e-mail
) WITHOUT ROWID;

-- 产品目录 / Product catalogue
CREATE TABLE products (
    product_id TEXT PRIMARY KEY,                                                   -- 产品编号 / product id
    name_zh    TEXT NOT NULL,                                                      -- 中文名称 / Chinese name
    name_en    TEXT NOT NULL,                                                      -- 英文名称 / English name
    category   TEXT NOT NULL,                                                      -- 品类 / category
    unit_price REAL NOT NULL CHECK (unit_price > 0),                               -- 标价 / list price
    unit_cost  REAL NOT NULL CHECK (unit_cost >= 0 AND unit_cost <= unit_price)    -- 单位成本 / unit cost
);

-- 营销活动 / Marketing campaigns
CREATE TABLE campaigns (
    campaign_id      TEXT PRIMARY KEY,                               -- 活动编号 / campaign id
    name_zh          TEXT NOT NULL,                                  -- 中文名称 / Chinese name
    name_en          TEXT NOT NULL,                                  -- 英文名称 / English name
    channel          TEXT NOT NULL,                                  -- 触达渠道 / channel
    starts_on        TEXT NOT NULL CHECK (date(starts_on) = starts_on),  -- 开始日期 / start date
    ends_on          TEXT NOT NULL CHECK (ends_on >= starts_on),     -- 结束日期 / end date
    offer_zh         TEXT NOT NULL,                                  -- 优惠（中文）/ offer (Chinese)
    offer_en         TEXT NOT NULL,                                  -- 优惠（英文）/ offer (English)
    discount         REAL NOT NULL CHECK (discount >= 0 AND discount < 1),  -- 折扣率 / discount rate
    cost_per_contact REAL NOT NULL CHECK (cost_per_contact >= 0)     -- 每次触达成本 / cost per contact
);

-- 销售代表 / Sales representatives
CREATE TABLE reps (
    rep_id TEXT PRIMARY KEY CHECK (rep_id GLOB 'S[0-9]*'),  -- 销售代表编号 / rep id
    name   TEXT NOT NULL                                    -- 姓名 / name
);

-- 线索 / Leads: prospects from a source, qualified or not
CREATE TABLE leads (
    lead_id      TEXT PRIMARY KEY CHECK (lead_id GLOB 'L[0-9]*'),   -- 线索编号 / lead id
    source_id    TEXT NOT NULL REFERENCES lead_sources (source_id), -- 来源 / source
    kind         TEXT NOT NULL REFERENCES account_kinds (kind),     -- 客户类型 / customer kind
    company      TEXT NOT NULL,                                     -- 单位或个人名称 / organisation or person
    contact_name TEXT NOT NULL,                                     -- 联系人 / contact name
    phone        TEXT NOT NULL,                                     -- 电话 / phone
    created_at   TEXT NOT NULL CHECK (datetime(created_at) = created_at),  -- 获取时间 / created at
    status       TEXT NOT NULL CHECK (status IN ('open', 'qualified', 'disqualified', 'converted')),  -- 状态：待跟进、合格、不合格、已转化 / open, qualified, disqualified, converted
    qualified_at TEXT CHECK (qualified_at IS NULL OR qualified_at >= created_at),  -- 确认合格时间 / qualified at
    account_id   TEXT REFERENCES accounts (account_id),             -- 转化后的客户 / account created from it
    cost         REAL NOT NULL CHECK (cost >= 0)                    -- 获取成本 / acquisition cost
) WITHOUT ROWID;

-- 销售机会 / Opportunities (sales pipeline)
CREATE TABLE opportunities (
    opportunity_id TEXT PRIMARY KEY CHECK (opportunity_id GLOB 'Q[0-9]*'),  -- 机会编号 / opportunity id
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),          -- 客户 / account
    lead_id        TEXT REFERENCES leads (lead_id),                         -- 来源线索（追加销售为空）/ lead (empty for upsell)
    rep_id         TEXT NOT NULL REFERENCES reps (rep_id),                  -- 负责销售代表 / owner rep
    deal_type      TEXT NOT NULL CHECK (deal_type IN ('new', 'upsell')),    -- 新客户或追加销售 / new business or upsell
    amount         REAL NOT NULL CHECK (amount > 0),                        -- 预计金额 / expected amount
    created_at     TEXT NOT NULL CHECK (datetime(created_at) = created_at), -- 创建时间 / created at
    stage          TEXT NOT NULL CHECK (stage IN ('qualified', 'proposal', 'negotiation', 'won', 'lost')),  -- 当前阶段 / current stage
    closed_at      TEXT CHECK (closed_at IS NULL OR closed_at >= created_at),  -- 成交或丢单时间 / closed at
    lost_reason    TEXT,                                                    -- 丢单原因 / reason lost
    won_amount     REAL CHECK (won_amount IS NULL OR won_amount > 0),       -- 成交金额 / amount won
    probability    REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),       -- 销售代表预测的赢单概率（成交 1，丢单 0）/ win probability forecast by the rep (1 won, 0 lost)
    expected_close TEXT NOT NULL CHECK (datetime(expected_close) = expected_close),  -- 预计成交日期 / expected close date
    CHECK ((stage IN ('won', 'lost')) = (closed_at IS NOT NULL)),
    CHECK (stage NOT IN ('won', 'lost') OR probability = (stage = 'won'))
) WITHOUT ROWID;

-- 阶段历史 / Stage history: when each opportunity entered each stage
CREATE TABLE stage_history (
    opportunity_id TEXT NOT NULL REFERENCES opportunities (opportunity_id),  -- 机会 / opportunity
    stage          TEXT NOT NULL CHECK (stage IN ('qualified', 'proposal', 'negotiation', 'won', 'lost')),  -- 阶段 / stage
    entered_at     TEXT NOT NULL CHECK (datetime(entered_at) = entered_at),  -- 进入时间 / entered at
    PRIMARY KEY (opportunity_id, stage)
) WITHOUT ROWID;

-- 报价 / Quotes
CREATE TABLE quotes (
    quote_id       TEXT PRIMARY KEY CHECK (quote_id GLOB 'R[0-9]*'),         -- 报价编号 / quote id
    opportunity_id TEXT NOT NULL REFERENCES opportunities (opportunity_id),  -- 机会 / opportunity
    quoted_at      TEXT NOT NULL CHECK (datetime(quoted_at) = quoted_at),    -- 报价时间 / quoted at
    list_amount    REAL NOT NULL CHECK (list_amount > 0),                    -- 标价金额 / list amount
    discount       REAL NOT NULL CHECK (discount >= 0 AND discount < 1),     -- 折扣率 / discount
    amount         REAL NOT NULL CHECK (amount > 0 AND amount <= list_amount),  -- 报价金额 / quoted amount
    valid_until    TEXT NOT NULL CHECK (date(valid_until) = valid_until)     -- 有效期至 / valid until
) WITHOUT ROWID;

-- 销售活动 / Sales activities logged by reps
CREATE TABLE activities (
    activity_id    TEXT PRIMARY KEY CHECK (activity_id GLOB 'V[0-9]*'),     -- 活动编号 / activity id
    rep_id         TEXT NOT NULL REFERENCES reps (rep_id),                  -- 销售代表 / rep
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),          -- 客户 / account
    opportunity_id TEXT REFERENCES opportunities (opportunity_id),          -- 相关机会 / opportunity
    type           TEXT NOT NULL CHECK (type IN ('call', 'visit', 'email')), -- 类型：电话、拜访、邮件 / call, visit or e-mail
    done_at        TEXT NOT NULL CHECK (datetime(done_at) = done_at)        -- 时间 / done at
) WITHOUT ROWID;

-- 销售提成 / Commissions on won deals
CREATE TABLE commissions (
    opportunity_id TEXT PRIMARY KEY REFERENCES opportunities (opportunity_id),  -- 机会 / opportunity
    rep_id         TEXT NOT NULL REFERENCES reps (rep_id),                      -- 销售代表 / rep
    amount         REAL NOT NULL CHECK (amount >= 0),                           -- 提成金额 / commission
    earned_at      TEXT NOT NULL CHECK (datetime(earned_at) = earned_at)        -- 计提时间 / earned at
) WITHOUT ROWID;

-- 订单 / Orders
CREATE TABLE orders (
    order_id       TEXT PRIMARY KEY CHECK (order_id GLOB 'O[0-9]*'),        -- 订单编号 / order id
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),          -- 客户 / account
    contact_id     TEXT NOT NULL REFERENCES contacts (contact_id),          -- 下单联系人 / ordering contact
    ordered_at     TEXT NOT NULL CHECK (datetime(ordered_at) = ordered_at), -- 下单时间 / ordered at
    source         TEXT NOT NULL CHECK (source IN ('repeat', 'first', 'deal', 'campaign')),  -- 来源：复购、首单、成交、活动 / repeat purchase, first order, won deal, campaign
    campaign_id    TEXT REFERENCES campaigns (campaign_id),                 -- 相关活动 / campaign
    opportunity_id TEXT REFERENCES opportunities (opportunity_id)           -- 相关机会 / opportunity
) WITHOUT ROWID;

-- 订单明细 / Order lines (unit_price is the price paid, after any discount)
CREATE TABLE order_lines (
    order_id   TEXT    NOT NULL REFERENCES orders (order_id),      -- 订单 / order
    line_no    INTEGER NOT NULL CHECK (line_no >= 1),              -- 行号 / line number
    product_id TEXT    NOT NULL REFERENCES products (product_id),  -- 产品 / product
    quantity   INTEGER NOT NULL CHECK (quantity > 0),              -- 数量 / quantity
    unit_price REAL    NOT NULL CHECK (unit_price > 0),            -- 成交单价 / unit price paid
    unit_cost  REAL    NOT NULL CHECK (unit_cost >= 0),            -- 单位成本 / unit cost
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

-- 活动成员与响应 / Campaign members and their responses
CREATE TABLE campaign_members (
    campaign_id  TEXT NOT NULL REFERENCES campaigns (campaign_id),  -- 活动 / campaign
    account_id   TEXT NOT NULL REFERENCES accounts (account_id),    -- 客户 / account
    contacted_at TEXT NOT NULL CHECK (datetime(contacted_at) = contacted_at),  -- 触达时间 / contacted at
    responded_at TEXT CHECK (responded_at IS NULL OR responded_at >= contacted_at),  -- 响应时间（未响应为空）/ responded at (empty: no response)
    order_id     TEXT REFERENCES orders (order_id),                 -- 响应订单 / order placed in response
    PRIMARY KEY (campaign_id, account_id)
) WITHOUT ROWID;

-- 客服人员（坐席与主管）/ Service staff: agents and the managers who take escalations
CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY CHECK (agent_id GLOB 'G[0-9]*' OR agent_id GLOB 'M[0-9]*'),  -- 工号 / staff id
    name     TEXT NOT NULL,                                          -- 姓名 / name
    role     TEXT NOT NULL CHECK (role IN ('agent', 'manager')),     -- 坐席或主管 / agent or manager
    skill    TEXT NOT NULL REFERENCES skills (skill),                -- 技能组（排队的队列）/ skill group (the queue the agent answers)
    CHECK ((role = 'manager') = (skill = 'escalation'))
);

-- 技能组 / Skill groups: each has its own queue; 'general' takes every reason no team is skilled in
CREATE TABLE skills (
    skill   TEXT PRIMARY KEY CHECK (skill GLOB '[a-z]*'),  -- 技能组 / skill group
    name_zh TEXT NOT NULL,                                 -- 中文名称 / name in Chinese
    name_en TEXT NOT NULL                                  -- 英文名称 / name in English
);

-- 路由规则 / Routing: which skill group takes the contacts of each reason
CREATE TABLE routing (
    reason TEXT PRIMARY KEY CHECK (reason IN ('inquiry', 'order', 'complaint', 'technical', 'billing')),  -- 联系原因 / contact reason
    skill  TEXT NOT NULL REFERENCES skills (skill)          -- 技能组 / skill group
);

-- 服务工单（各渠道）/ Service tickets, one per customer issue, on any channel
CREATE TABLE tickets (
    ticket_id         TEXT PRIMARY KEY CHECK (ticket_id GLOB 'T[0-9]*'),  -- 工单编号 / ticket id
    account_id        TEXT NOT NULL REFERENCES accounts (account_id),     -- 客户 / account
    contact_id        TEXT NOT NULL REFERENCES contacts (contact_id),     -- 联系人 / contact
    channel           TEXT NOT NULL CHECK (channel IN ('phone', 'email', 'chat', 'messaging', 'visit')),  -- 渠道 / channel
    reason            TEXT NOT NULL CHECK (reason IN ('inquiry', 'order', 'complaint', 'technical', 'billing')),  -- 原因 / reason
    opened_at         TEXT NOT NULL CHECK (datetime(opened_at) = opened_at),  -- 受理时间 / opened at
    first_response_at TEXT CHECK (first_response_at IS NULL OR first_response_at >= opened_at),  -- 首次响应时间 / first response at
    resolved_at       TEXT CHECK (resolved_at IS NULL OR resolved_at >= opened_at),  -- 解决时间 / resolved at
    status            TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'abandoned')),  -- 状态：处理中、已解决、客户放弃 / open, resolved, or abandoned by the customer
    escalated         INTEGER NOT NULL CHECK (escalated IN (0, 1)),       -- 是否升级至主管 / escalated to a manager
    agent_id          TEXT REFERENCES agents (agent_id),                  -- 首个处理人 / first agent
    first_contact_resolution INTEGER NOT NULL CHECK (first_contact_resolution IN (0, 1)),  -- 首次接触即解决 / resolved at first contact
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
) WITHOUT ROWID;

-- 呼叫中心通话 / Call-centre calls (a ticket may have several: callbacks, escalation)
CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY CHECK (call_id GLOB 'K[0-9]*'),          -- 通话编号 / call id
    ticket_id   TEXT NOT NULL REFERENCES tickets (ticket_id),             -- 工单 / ticket
    account_id  TEXT NOT NULL REFERENCES accounts (account_id),           -- 客户 / account
    contact_id  TEXT NOT NULL REFERENCES contacts (contact_id),           -- 来电人 / caller
    agent_id    TEXT REFERENCES agents (agent_id),                        -- 接听人（放弃为空）/ answered by (empty: abandoned)
    reason      TEXT NOT NULL CHECK (reason IN ('inquiry', 'order', 'complaint', 'technical', 'billing')),  -- 原因 / reason
    priority    INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),        -- 排队优先级（0 最先）/ queue priority (0 first)
    arrived_at  TEXT NOT NULL CHECK (datetime(arrived_at) = arrived_at),  -- 进线时间 / arrived at
    answered_at TEXT CHECK (answered_at IS NULL OR answered_at >= arrived_at),  -- 接听时间（放弃为空）/ answered at (empty: abandoned)
    callback_of TEXT,                                                     -- 回拨对应的前一通话，或 'escalation' / earlier abandoned call this one retries, or 'escalation'
    abandoned   INTEGER NOT NULL CHECK (abandoned IN (0, 1)),             -- 排队中挂断 / hung up while waiting
    ended_at    TEXT NOT NULL CHECK (ended_at >= arrived_at),             -- 结束时间 / ended at
    CHECK ((abandoned = 1) = (answered_at IS NULL)),
    CHECK ((abandoned = 1) = (agent_id IS NULL))
) WITHOUT ROWID;

-- 投诉 / Complaints with their cause, severity and recovery
CREATE TABLE complaints (
    complaint_id    TEXT PRIMARY KEY CHECK (complaint_id GLOB 'Y[0-9]*'),  -- 投诉编号 / complaint id
    ticket_id       TEXT NOT NULL UNIQUE REFERENCES tickets (ticket_id),   -- 工单 / ticket
    account_id      TEXT NOT NULL REFERENCES accounts (account_id),        -- 客户 / account
    cause           TEXT NOT NULL,                                         -- 原因 / cause
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),  -- 严重程度 / severity
    recovery_action TEXT NOT NULL CHECK (recovery_action IN ('apology', 'refund', 'compensation', 'replacement')),  -- 补救措施 / recovery action
    recovery_cost   REAL NOT NULL CHECK (recovery_cost >= 0),              -- 补救成本 / cost of recovery
    registered_at   TEXT NOT NULL CHECK (datetime(registered_at) = registered_at),  -- 登记时间 / registered at
    closed_at       TEXT CHECK (closed_at IS NULL OR closed_at >= registered_at)  -- 结案时间（未结为空）/ closed at (empty: still open)
) WITHOUT ROWID;

-- 服务后满意度（1–5）/ CSAT: the short questionnaire after a service job (1–5)
CREATE TABLE csat (
    ticket_id   TEXT PRIMARY KEY REFERENCES tickets (ticket_id),       -- 工单 / ticket
    account_id  TEXT NOT NULL REFERENCES accounts (account_id),        -- 客户 / account
    answered_at TEXT NOT NULL CHECK (datetime(answered_at) = answered_at),  -- 回答时间 / answered at
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5)         -- 满意度评分 / satisfaction score
) WITHOUT ROWID;

-- 年度满意度调查 / The annual satisfaction survey
CREATE TABLE surveys (
    survey_id TEXT PRIMARY KEY,                                  -- 调查编号 / survey id
    year      INTEGER NOT NULL,                                  -- 年度 / year
    sent_at   TEXT NOT NULL CHECK (datetime(sent_at) = sent_at)  -- 发出时间 / sent at
);

-- 调查题目（李克特 5 级）/ Survey items (5-point Likert: 1 strongly disagree … 5 strongly agree)
CREATE TABLE survey_items (
    item_id TEXT PRIMARY KEY,  -- 题目代码 / item code
    text_zh TEXT NOT NULL,     -- 题目（中文）/ statement (Chinese)
    text_en TEXT NOT NULL      -- 题目（英文）/ statement (English)
);

-- 调查答卷 / Survey responses, with the recommendation score (NPS question, 0–10)
CREATE TABLE survey_responses (
    response_id TEXT PRIMARY KEY,                                  -- 答卷编号 / response id
    survey_id   TEXT NOT NULL REFERENCES surveys (survey_id),      -- 调查 / survey
    account_id  TEXT NOT NULL REFERENCES accounts (account_id),    -- 客户 / account
    contact_id  TEXT NOT NULL REFERENCES contacts (contact_id),    -- 答卷人 / respondent
    answered_at TEXT NOT NULL CHECK (datetime(answered_at) = answered_at),  -- 回答时间 / answered at
    nps         INTEGER NOT NULL CHECK (nps BETWEEN 0 AND 10)      -- 推荐意愿（0–10）/ likelihood to recommend (0–10)
) WITHOUT ROWID;

-- 调查答案 / Survey answers, one per item
CREATE TABLE survey_answers (
    response_id TEXT    NOT NULL REFERENCES survey_responses (response_id),  -- 答卷 / response
    item_id     TEXT    NOT NULL REFERENCES survey_items (item_id),          -- 题目 / item
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),              -- 评分 / score
    PRIMARY KEY (response_id, item_id)
);
