//! `sessions` as written: per-session and per-task roll-ups kept in proxy-wasm shared data.
//!
//! This module owns the keys and defaults. The bounds are checked by `session::Limits::compile`,
//! next to the slot design they bound.

use serde::Deserialize;

/// `sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Keep session totals and task start times. With it off, no session, task or tool-link
    /// slot is written and the task budget check is off too.
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// A session or task not seen for this long is over; its slot starts afresh.
    #[serde(default = "default_idle_ttl_ms")]
    pub idle_ttl_ms: u64,
    /// Session slots. The number of sessions kept is bounded by this, by construction.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u64,
    /// Task slots, for task start times (the budget check).
    #[serde(default = "default_max_tasks")]
    pub max_tasks: u64,
    /// Distinct task ids remembered per session, to count tasks. Past it the oldest is
    /// forgotten (a forgotten task seen again is counted again).
    #[serde(default = "default_max_tasks_per_session")]
    pub max_tasks_per_session: u64,
    /// Emit a task record (an `invoke_agent` span and a `genai_tap.task.record` log record)
    /// when a task ends.
    #[serde(default = "super::yes")]
    pub task_records: bool,
    /// Emit a session record (a `genai_tap.session` span and a `genai_tap.session.record` log
    /// record) when a session ends: by `identity.session_end_header`, or idle for `idle_ttl_ms`.
    #[serde(default = "super::yes")]
    pub session_records: bool,
    /// A task with no call for this long, and no end header, is over (`timed_out`). Checked on
    /// the tick; at most `idle_ttl_ms`.
    #[serde(default = "default_task_idle_timeout_ms")]
    pub task_idle_timeout_ms: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        RawSessions {
            enabled: true,
            idle_ttl_ms: default_idle_ttl_ms(),
            max_sessions: default_max_sessions(),
            max_tasks: default_max_tasks(),
            max_tasks_per_session: default_max_tasks_per_session(),
            task_records: true,
            session_records: true,
            task_idle_timeout_ms: default_task_idle_timeout_ms(),
        }
    }
}

fn default_idle_ttl_ms() -> u64 {
    30 * 60 * 1000
}
fn default_max_sessions() -> u64 {
    10_000
}
fn default_max_tasks() -> u64 {
    10_000
}
fn default_max_tasks_per_session() -> u64 {
    32
}
fn default_task_idle_timeout_ms() -> u64 {
    5 * 60 * 1000
}
