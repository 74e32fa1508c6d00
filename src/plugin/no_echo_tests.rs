//! Configuration errors never echo a configured value: Envoy logs a refused configuration, so
//! a salt or token written under the wrong key would otherwise end up in the log.
//!
//! Each case puts a marker (`s3cr3t-salt`, or the digits `31337` in a number) into a value,
//! never into a key, and names the field the error must point at.

use super::Config;

struct Case {
    json: &'static str,
    field: &'static str,
    /// A piece of the message, so a case cannot pass by failing somewhere else.
    says: &'static str,
}

const CASES: &[Case] = &[
    // serde's own messages: wrong types, unknown variants, out-of-range numbers
    Case { json: r#"{"max_body_bytes":"s3cr3t-salt"}"#, field: "max_body_bytes", says: "invalid type: string, expected u64" },
    Case { json: r#"{"identity":{"hash_user_id":"s3cr3t-salt"}}"#, field: "identity.hash_user_id", says: "expected a boolean" },
    Case { json: r#"{"service_name":["s3cr3t-salt"]}"#, field: "service_name", says: "invalid type: sequence" },
    Case { json: r#"{"pii":{"mode":"s3cr3t-salt"}}"#, field: "pii.mode", says: "unknown variant, expected one of `off`, `observe`, `redact`" },
    Case { json: r#"{"secrets":{"routes":{"llm":{"request":"s3cr3t-salt"}}}}"#, field: "secrets.routes.llm.request", says: "unknown variant" },
    Case { json: r#"{"pii":{"routes":{"agent":{"request":"s3cr3t-salt"}}}}"#, field: "pii.routes.agent", says: "unknown field `agent`, expected one of `llm`, `mcp`, `tool`" },
    Case { json: r#"{"pii":{"placeholder":"s3cr3t-salt"}}"#, field: "pii.placeholder", says: "unknown variant" },
    Case { json: r#"{"collector":{"encoding":"s3cr3t-salt"}}"#, field: "collector.encoding", says: "unknown variant, expected `protobuf` or `json`" },
    Case { json: r#"{"routes":[{"host":"a","kind":"s3cr3t-salt"}]}"#, field: "routes[0].kind", says: "unknown variant" },
    Case { json: r#"{"sessions":{"idle_ttl_ms":-31337}}"#, field: "sessions.idle_ttl_ms", says: "invalid value: integer, expected u64" },
    Case { json: r#"{"collector":{"max_retries":3133700000000}}"#, field: "collector.max_retries", says: "expected u32" },
    Case { json: r#"{"stats":{"max_label_values":1.31337}}"#, field: "stats.max_label_values", says: "floating point" },
    Case { json: r#"{"pricing":{"models":[{"match":"m","input":"s3cr3t-salt"}]}}"#, field: "pricing.models[0].input", says: "expected f64" },
    Case { json: r#"{"content":{"hash_salt":31337}}"#, field: "content.hash_salt", says: "invalid type: integer, expected a string" },
    Case { json: r#"{"content":{"hash_salt":"s3cr3t-salt"#, field: "content.hash_salt", says: "EOF while parsing a string" },
    // the compile checks of every block
    Case { json: r#"{"content":{"hash_salt":"s3cr3t"}}"#, field: "content.hash_salt", says: "at least 8 characters" },
    Case { json: r#"{"routes":[{"host":"s3cr3t-salt:80","kind":"llm"}]}"#, field: "routes[0].host", says: "without a port" },
    Case { json: r#"{"routes":[{"host":"a","kind":"llm","provider":"s3cr3t-salt"}]}"#, field: "routes[0].provider", says: "unknown provider" },
    Case { json: r#"{"routes":[{"host":"a","kind":"llm","path_prefix":"s3cr3t-salt"}]}"#, field: "routes[0].path_prefix", says: "must start with '/'" },
    Case { json: r#"{"pii":{"kinds":["email","s3cr3t-salt"]}}"#, field: "pii.kinds[1]", says: "unknown kind" },
    Case { json: r#"{"pii":{"custom":[{"name":"s3cr3t salt","pattern":"x"}]}}"#, field: "pii.custom[0].name", says: "letters" },
    Case { json: r#"{"pii":{"custom":[{"name":"EMP","pattern":"s3cr3t-salt("}]}}"#, field: "pii.custom[0].pattern", says: "is not a valid regex" },
    Case { json: r#"{"pii":{"placeholder":"pseudonym","custom":[{"name":"S3CR3T_SALT","pattern":"s3cr3t-salt"}]}}"#, field: "pii.pseudonym_salt", says: "must be set when placeholder" },
    Case { json: r#"{"secrets":{"custom":[{"id":"github-pat","pattern":"s3cr3t-salt[a-z]+"}]}}"#, field: "secrets.custom[0].id", says: "already a rule id" },
    Case { json: r#"{"secrets":{"disabled_rules":["s3cr3t-salt"]}}"#, field: "secrets.disabled_rules[0]", says: "unknown rule" },
    Case { json: r#"{"secrets":{"custom":[{"id":"s3cr3t salt","pattern":"x+"}]}}"#, field: "secrets.custom[0].id", says: "letters" },
    Case { json: r#"{"secrets":{"custom":[{"id":"x","pattern":"s3cr3t-salt[a-"}]}}"#, field: "secrets.custom[0].pattern", says: "is not a valid regex" },
    Case { json: r#"{"secrets":{"allowlist_patterns":["s3cr3t-salt)"]}}"#, field: "secrets.allowlist_patterns[0]", says: "is not a valid regex" },
    Case { json: r#"{"secrets":{"block_status":31337}}"#, field: "secrets.block_status", says: "400 to 599" },
    Case { json: r#"{"collector":{"headers":{"x-key":"s3cr3t-salt\r\n"}}}"#, field: "collector.headers.x-key", says: "CR, LF or NUL" },
    Case { json: r#"{"collector":{"cluster":"c","path":"s3cr3t-salt"}}"#, field: "collector.path", says: "must start with '/'" },
    Case { json: r#"{"collector":{"flush_interval_ms":31337000}}"#, field: "collector.flush_interval_ms", says: "between 10 and 60000" },
    Case { json: r#"{"identity":{"user_header":"s3cr3t salt"}}"#, field: "identity.user_header", says: "header name" },
    Case { json: r#"{"identity":{"hash_user_id":true,"user_id_salt":"s3cr3t-salt","task_header":""}}"#, field: "identity.task_header", says: "must name a request header" },
    Case { json: r#"{"sessions":{"max_sessions":31337000}}"#, field: "sessions.max_sessions", says: "between 1 and 1000000" },
    Case { json: r#"{"pricing":{"models":[{"match":"s3cr3t-salt*x","input":1,"output":1}]}}"#, field: "pricing.models[0].match", says: "trailing '*'" },
    Case { json: r#"{"pricing":{"models":[{"match":"m","provider":"s3cr3t-salt","input":1,"output":1}]}}"#, field: "pricing.models[0].provider", says: "provider name" },
    Case { json: r#"{"pricing":{"models":[{"match":"m","input":31337.1234567,"output":1}]}}"#, field: "pricing.models[0].input", says: "at most 6 decimals" },
    Case { json: r#"{"tools":{"max_argument_bytes":31337000}}"#, field: "tools.max_argument_bytes", says: "between 16 and 65536" },
    Case { json: r#"{"content":{"capture":{"enabled":true,"cluster":"s3cr3t-salt"}}}"#, field: "content.capture.authority", says: "must be set" },
    Case { json: r#"{"content":{"capture":{"enabled":true,"cluster":"c","authority":"a","sample_rate":31337}}}"#, field: "content.capture.sample_rate", says: "between 0 and 1" },
    Case { json: r#"{"llm":{"max_frame_bytes":31337000}}"#, field: "llm.max_frame_bytes", says: "between 1024 and 16777216" },
];

#[test]
fn no_error_echoes_a_value() {
    for case in CASES {
        let e = match Config::from_json(case.json.as_bytes()) {
            Ok(_) => panic!("{}: accepted", case.json),
            Err(e) => e,
        };
        let text = e.to_string();
        assert_eq!(e.field(), case.field, "{}: {text}", case.json);
        assert!(e.message().contains(case.says), "{}: {text}", case.json);
        for marker in ["s3cr3t", "31337"] {
            assert!(!text.contains(marker), "{}: {text}", case.json);
        }
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn a_misplaced_salt_is_not_echoed() {
    // the case of the issue: the salt under a key that wants a number
    let e = Config::from_json(br#"{"content":{"hash_salt":"a-real-salt"},"max_body_bytes":"s3cr3t-salt"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid genai-tap configuration: max_body_bytes: invalid type: string, expected u64"
    );
}
