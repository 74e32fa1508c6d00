//! Defence in depth: every string that leaves in telemetry passes the guard's detectors,
//! whatever the wire modes. This owns which strings those are; `scan` owns the detectors.

use crate::plugin::Config;
use crate::scan;
use crate::span::{attr, AttrValue, Span};
use std::borrow::Cow;

/// Attributes whose values genai-tap writes itself (constants, numbers as text, hex digests):
/// nothing from the wire reaches them, so the telemetry pass skips them.
const OWN_VALUES: &[&str] = &[
    attr::GEN_AI_OPERATION_NAME, attr::GEN_AI_PROVIDER_NAME, attr::TAP_OUTCOME, attr::TAP_STEP_TYPE,
    attr::TAP_ROUTE_KIND, attr::TAP_NOT_PARSED_REASON, attr::TAP_RETENTION_BUCKET, attr::TAP_PROMPT_SHA256,
    attr::TAP_COMPLETION_SHA256, attr::USER_ID_HASH, attr::TAP_TOOL_AUTHZ, attr::TAP_GUARD_BLOCKED_RULE,
    attr::TAP_TOOL_RESULT_TYPE, attr::MCP_METHOD_NAME, attr::TAP_MODEL_TIER, attr::GEN_AI_SYSTEM,
];

/// Passes `s` through the detectors, in place.
pub(super) fn clean(cfg: &Config, s: &mut String) {
    if let Cow::Owned(c) = scan::sanitize_for_telemetry(&cfg.guard, s) {
        *s = c;
    }
}

/// [`clean`] for an attribute value, which may be borrowed: it is replaced only when the
/// detectors change it.
fn clean_value(cfg: &Config, s: &mut Cow<'static, str>) {
    if let Cow::Owned(c) = scan::sanitize_for_telemetry(&cfg.guard, s) {
        *s = Cow::Owned(c);
    }
}

/// Every string attribute from the wire, every string in a list, and the span's name (it
/// carries a model, a tool or a resource URI) through the detectors.
pub(super) fn sanitize_span(cfg: &Config, span: &mut Span) {
    clean(cfg, &mut span.name);
    for (k, v) in span.attributes.iter_mut() {
        match v {
            AttrValue::Str(s) if !OWN_VALUES.contains(k) => clean_value(cfg, s),
            AttrValue::StrList(list) => list.iter_mut().for_each(|s| clean(cfg, s)),
            _ => {}
        }
    }
}
