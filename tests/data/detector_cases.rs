// The labelled set (`detectors.jsonl`, written by `scripts/gen_detector_cases.py`), read the
// same way by the unit tests, the bench's precision and recall, and the fuzz smoke's seeds:
// `include!`d, so all of them judge the very same cases.

/// One labelled case.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct DetectorCase {
    /// `core`, `extended` or `telemetry`.
    pub tier: String,
    /// `pii` or `secret`.
    pub class: String,
    /// Kind names or rule ids that must be found; empty for a hard negative.
    pub kinds: Vec<String>,
    /// `text`, `json`, `json_ascii`, `url`, `shell` or `env`.
    pub context: String,
    pub text: String,
    /// The sensitive part (or the look-alike, for a negative).
    pub value: String,
}

#[allow(dead_code)]
pub fn detector_cases() -> Vec<DetectorCase> {
    include_str!("detectors.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
            let kinds = v.get("kinds")?.as_array()?.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect();
            Some(DetectorCase { tier: s("tier"), class: s("class"), kinds, context: s("context"), text: s("text"), value: s("value") })
        })
        .collect()
}
