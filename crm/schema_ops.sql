-- What an operational CRM needs beyond the simulator's snapshot (simulator/schema.sql).
-- Applied by crm.migrate when a database is opened; every statement is idempotent.
-- Columns added to the simulator's own tables are listed in crm/migrate.py (ADDED_COLUMNS);
-- triggers that keep merged records out of new work are generated there from the foreign keys.
-- Comments follow the data dictionary's "中文 / English" style.

-- 操作日志（只增不改）/ Audit log: every change made through the API, append-only
CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY,                            -- 序号 / sequence number
    op_no        INTEGER NOT NULL CHECK (op_no >= 1),            -- 操作序号（一次操作可改多条记录）/ operation number (one operation may change several records)
    at           TEXT NOT NULL CHECK (datetime(at) = at),        -- 操作时间（CRM 时钟）/ when (the CRM's clock)
    user         TEXT NOT NULL CHECK (length(user) > 0),         -- 操作人 / who
    operation    TEXT NOT NULL,                                  -- 操作 / operation, e.g. ticket.close
    record_table TEXT NOT NULL,                                  -- 表 / table
    record_id    TEXT NOT NULL,                                  -- 记录编号 / record id
    before       TEXT CHECK (before IS NULL OR json_valid(before)),  -- 修改前（JSON，新建为空）/ before (JSON; empty when created)
    after        TEXT CHECK (after IS NULL OR json_valid(after))     -- 修改后（JSON）/ after (JSON)
);
CREATE INDEX IF NOT EXISTS audit_by_record ON audit_log (record_table, record_id);

CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- 操作调用 / Each operation as it was called through the API (code, console or replay): what the term's next
-- company module redoes on the company's later data (docs/design.md "The company track")
CREATE TABLE IF NOT EXISTS operations (
    op_no     INTEGER PRIMARY KEY CHECK (op_no >= 1),           -- 操作序号（同操作日志）/ operation number (as in audit_log)
    operation TEXT NOT NULL,                                    -- 操作 / operation, e.g. account.merge
    at        TEXT NOT NULL CHECK (datetime(at) = at),          -- 操作时间（CRM 时钟）/ when (the CRM's clock)
    user      TEXT NOT NULL CHECK (length(user) > 0),           -- 操作人 / who
    args      TEXT CHECK (args IS NULL OR json_valid(args)),    -- 位置参数（JSON；无法记录为空）/ arguments (JSON; empty if not recordable)
    kwargs    TEXT CHECK (kwargs IS NULL OR json_valid(kwargs)) -- 关键字参数（JSON）/ keyword arguments (JSON)
);

-- 跟进与提醒 / Follow-ups and reminders scheduled by reps
CREATE TABLE IF NOT EXISTS followups (
    followup_id    TEXT PRIMARY KEY CHECK (followup_id GLOB 'F[0-9]*'),    -- 跟进编号 / follow-up id
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),         -- 客户 / account
    contact_id     TEXT REFERENCES contacts (contact_id),                  -- 联系人 / contact
    opportunity_id TEXT REFERENCES opportunities (opportunity_id),         -- 相关机会 / opportunity
    rep_id         TEXT NOT NULL REFERENCES reps (rep_id),                 -- 负责销售代表 / owner rep
    subject        TEXT NOT NULL CHECK (length(subject) > 0),              -- 主题 / subject
    created_at     TEXT NOT NULL CHECK (datetime(created_at) = created_at),  -- 创建时间 / created at
    due_at         TEXT NOT NULL CHECK (datetime(due_at) = due_at AND due_at >= created_at),  -- 到期时间 / due at
    status         TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),  -- 状态 / status
    done_at        TEXT CHECK (done_at IS NULL OR done_at >= created_at),  -- 完成或取消时间 / done or cancelled at
    activity_id    TEXT REFERENCES activities (activity_id),               -- 完成时记录的活动 / activity logged when done
    CHECK ((status = 'open') = (done_at IS NULL))
);
CREATE INDEX IF NOT EXISTS followups_by_due ON followups (status, due_at);

-- 服务等级协议 / SLA per ticket priority (calendar hours)
CREATE TABLE IF NOT EXISTS sla_policy (
    priority      TEXT PRIMARY KEY CHECK (priority IN ('urgent', 'high', 'normal', 'low')),  -- 优先级 / priority
    respond_hours REAL NOT NULL CHECK (respond_hours > 0),               -- 首次响应时限（小时）/ first response within (hours)
    resolve_hours REAL NOT NULL CHECK (resolve_hours >= respond_hours)   -- 解决时限（小时）/ resolution within (hours)
);
INSERT OR IGNORE INTO sla_policy VALUES ('urgent', 1, 8), ('high', 4, 24), ('normal', 8, 72), ('low', 24, 168);

-- 业务参数 / Business settings of the operational CRM (see crm.migrate.SETTINGS)
CREATE TABLE IF NOT EXISTS ops_settings (
    key   TEXT PRIMARY KEY,    -- 参数 / setting
    value REAL NOT NULL,       -- 取值 / value
    help  TEXT NOT NULL        -- 说明 / what it means
);

-- 投诉原因（场景允许的取值）/ Complaint causes allowed in this database (the scenario's values)
CREATE TABLE IF NOT EXISTS complaint_causes (
    cause TEXT PRIMARY KEY CHECK (length(cause) > 0)  -- 投诉原因 / cause
);
