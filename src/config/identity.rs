//! `identity` as written: the request headers that say who is calling, in which session and
//! task, and whether the user id is hashed.
//!
//! This module owns the keys and defaults. Checking and lowercasing the header names, and the
//! salted hash itself, are `plugin::Identity`'s.

use serde::Deserialize;

/// `identity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    #[serde(default = "default_user_header")]
    pub user_header: String,
    #[serde(default = "default_session_header")]
    pub session_header: String,
    #[serde(default = "default_task_header")]
    pub task_header: String,
    #[serde(default = "default_spec_version_header")]
    pub spec_version_header: String,
    #[serde(default = "default_agent_version_header")]
    pub agent_version_header: String,
    #[serde(default = "default_task_budget_header")]
    pub task_budget_header: String,
    /// Present on a task's last call: the task ends with it. Its value may declare the
    /// outcome (`completed`, `surfaced`, `errored`); any other value ends the task with the
    /// outcome of its last call.
    #[serde(default = "default_task_end_header")]
    pub task_end_header: String,
    /// Present on a session's last call: the session ends with it and its record is emitted.
    #[serde(default = "default_session_end_header")]
    pub session_end_header: String,
    /// The agent's name (`gen_ai.agent.name`, the `agent` stat label).
    #[serde(default = "default_agent_header")]
    pub agent_header: String,
    /// Record a salted hash of the user id. Off by default because it needs a salt; with it
    /// off, the user id is not recorded at all (a raw user id is never exported).
    #[serde(default)]
    pub hash_user_id: bool,
    /// The salt for `hash_user_id`. Keep it secret and stable: changing it changes every hash.
    #[serde(default)]
    pub user_id_salt: String,
}

impl Default for RawIdentity {
    fn default() -> Self {
        RawIdentity {
            user_header: default_user_header(),
            session_header: default_session_header(),
            task_header: default_task_header(),
            spec_version_header: default_spec_version_header(),
            agent_version_header: default_agent_version_header(),
            task_budget_header: default_task_budget_header(),
            task_end_header: default_task_end_header(),
            session_end_header: default_session_end_header(),
            agent_header: default_agent_header(),
            hash_user_id: false,
            user_id_salt: String::new(),
        }
    }
}

fn default_user_header() -> String {
    "x-agent-user-id".to_owned()
}
fn default_session_header() -> String {
    "x-agent-session-id".to_owned()
}
fn default_task_header() -> String {
    "x-agent-task-id".to_owned()
}
fn default_spec_version_header() -> String {
    "x-agent-spec-version".to_owned()
}
fn default_agent_version_header() -> String {
    "x-agent-version".to_owned()
}
fn default_task_budget_header() -> String {
    "x-agent-task-budget-ms".to_owned()
}
fn default_task_end_header() -> String {
    "x-agent-task-end".to_owned()
}
fn default_session_end_header() -> String {
    "x-agent-session-end".to_owned()
}
fn default_agent_header() -> String {
    "x-agent-name".to_owned()
}
