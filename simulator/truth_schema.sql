-- The ground-truth store: what generated the data, for graders and instructors only.
-- It is written to its own file and never copied into a student's folder.

-- 元数据 / Run metadata
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,  -- 键 / key
    value TEXT NOT NULL      -- 值 / value
);

-- 客户的潜在特征 / Latent traits of every account
CREATE TABLE latent_accounts (
    account_id          TEXT PRIMARY KEY,                                       -- 客户编号 / account id
    value_tier          TEXT NOT NULL CHECK (value_tier IN ('high', 'mid', 'low')),  -- 真实价值层级 / true value tier
    order_rate_per_year REAL NOT NULL CHECK (order_rate_per_year >= 0),         -- 购买率 λ（每年）/ purchase rate λ per year (BG/NBD)
    dropout_p           REAL NOT NULL CHECK (dropout_p BETWEEN 0 AND 1),        -- 每次购买后流失概率 p / dropout probability after each purchase (BG/NBD)
    service_per_year    REAL NOT NULL CHECK (service_per_year >= 0),            -- 服务需求率（每年）/ service contacts per year
    campaign_propensity REAL NOT NULL CHECK (campaign_propensity BETWEEN 0 AND 1),  -- 活动响应倾向 / campaign response propensity
    base_churn_hazard   REAL NOT NULL CHECK (base_churn_hazard >= 0),           -- 中性满意度下的流失风险（每年）/ churn hazard per year at neutral satisfaction
    final_satisfaction  REAL NOT NULL CHECK (final_satisfaction BETWEEN 1 AND 5),  -- 期末满意度 / satisfaction at the end
    churned_at          TEXT,          -- 真实流失时间（未流失为空）/ true churn time (empty: still a customer)
    churn_cause         TEXT CHECK (churn_cause IN ('dissatisfaction', 'dropout'))  -- 流失原因 / cause
);

-- 销售预测的真实情况 / The truth behind the sales forecast
CREATE TABLE latent_reps (
    rep_id        TEXT PRIMARY KEY,   -- 销售代表 / rep
    forecast_bias REAL NOT NULL       -- 预测偏差（加在阶段默认概率上；正为乐观）/ bias added to the stage's default probability (positive: optimistic)
);

CREATE TABLE latent_opportunities (
    opportunity_id  TEXT PRIMARY KEY,                                         -- 机会编号 / opportunity id
    win_probability REAL NOT NULL CHECK (win_probability BETWEEN 0 AND 1)     -- 期末所处阶段的真实赢单概率（已关闭为 1 或 0）/ true chance of winning from its stage at the snapshot (1 or 0 once closed)
);

-- 重复录入的客户 / Organisations entered twice (the second record of each, made on purpose)
CREATE TABLE latent_duplicates (
    account_id TEXT PRIMARY KEY,   -- 重复录入的记录 / the second record
    same_as    TEXT NOT NULL       -- 同一机构的第一条记录 / the organisation's first record
);
