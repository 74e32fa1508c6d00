//! A finished LLM call as telemetry: its facts gathered once, then the span, the stat updates
//! and the session roll-up built from them as values. Nothing here reads a span back.

use super::common::Common;
use super::guard::GuardState;
use super::llm::Llm;
use super::logs;
use super::outcome::{self, Outcome};
use super::sanitize::sanitize_span;
use super::session_link;
use super::task_link;
use super::tool_links;
use super::verdict::{EndInfo, Finished};
use crate::plugin::Config;
use crate::cost::CostBreakdown;
use crate::providers::{Provider, Usage};
use crate::session::{SessionTotals, SharedData};
use crate::span::{attr, Span, StatusCode};
use crate::stats::{self, StatUpdate};
use std::borrow::Cow;

/// What a finished LLM call amounts to, computed before anything is built from it.
struct Facts {
    provider: &'static str,
    operation: &'static str,
    request_model: String,
    /// The model that answered, else the one asked for, through the detectors as the span
    /// carries it: the stats' label.
    model_label: String,
    outcome: Outcome,
    surface_reason: Option<String>,
    step: &'static str,
    streaming: bool,
    error_type: Option<String>,
    usage: Usage,
    cost: Option<CostBreakdown>,
    end_ns: u64,
    /// Time to first chunk, from the end of the request.
    ttfc_ns: Option<u64>,
    /// `genai_tap.model.tier`.
    tier: String,
    /// The most bytes of state the call held, when it is a figure operators size by: a
    /// stream's framer and extractor state, or a guarded request body's held tail (the
    /// larger of the two).
    state_bytes: Option<usize>,
}

impl Facts {
    fn gather(cfg: &Config, common: &Common, guard: &GuardState, llm: &Llm, end: &EndInfo, now: u64) -> Facts {
        let blocked = guard.blocked.is_some();
        let x = &llm.extraction;
        let call = &x.call;
        let mut outcome = outcome::outcome_of(common, blocked, call.error_type.is_some(), end);
        let surface_reason = outcome::surface_of(cfg, call);
        if surface_reason.is_some() && outcome == Outcome::Completed {
            outcome = Outcome::Surfaced;
        }
        let request_model = call.request_model.clone().unwrap_or_default();
        let model = call.response_model.clone().unwrap_or_else(|| request_model.clone());
        let usage = call.usage;
        // Gemini reports thinking apart from its output, and it is billed as output
        let mut billed = usage;
        if matches!(x.detected.provider, Provider::Gemini | Provider::VertexAi) && (usage.output.is_some() || usage.reasoning.is_some()) {
            billed.output = Some(usage.output.unwrap_or(0) + usage.reasoning.unwrap_or(0));
        }
        let request_end = common.request_end_ns.unwrap_or(common.start_ns);
        let first_chunk = x.timing.first_content_ns.or(x.timing.first_frame_ns);
        let streaming = call.params.stream.unwrap_or(false) || x.detected.path_stream;
        let stream_state = if streaming { x.peak_state_bytes() } else { 0 };
        let state_bytes = (streaming || guard.request_state_bytes > 0).then(|| stream_state.max(guard.request_state_bytes));
        Facts {
            provider: x.detected.provider.semconv_name(),
            operation: x.detected.operation.semconv_name(),
            // priced as the provider named it; labelled as the span carries it
            cost: crate::cost::cost(&cfg.pricing, &model, &billed, x.detected.provider),
            model_label: crate::scan::sanitize_for_telemetry(&cfg.guard, &model).into_owned(),
            request_model,
            step: outcome::step_type(call, outcome),
            error_type: outcome.error_type(call.error_type.as_deref(), common.status),
            outcome,
            surface_reason,
            streaming,
            state_bytes,
            usage,
            end_ns: common.end_ns(now),
            ttfc_ns: first_chunk.map(|t| t.saturating_sub(request_end)),
            tier: cfg.tiers.tier(&cfg.pricing, &model, x.detected.provider).to_owned(),
        }
    }

    fn has_usage(&self) -> bool {
        self.usage.input.is_some() || self.usage.output.is_some()
    }
}

/// What the call added to its session and task, across workers.
#[derive(Default)]
struct Rollup {
    over_budget: bool,
    session: Option<SessionTotals>,
}

fn roll_up<S: SharedData>(cfg: &Config, common: &Common, facts: &Facts, store: &mut S, fin: &mut Finished) -> Rollup {
    let mut out = Rollup::default();
    if !cfg.sessions.enabled {
        return out;
    }
    let idf = &common.identity;
    let call = task_link::CallFacts {
        llm: true,
        end_ns: facts.end_ns,
        usage: Some(&facts.usage),
        cost_micro_usd: facts.cost.as_ref().map(|c| c.micro_usd),
        outcome: facts.outcome.as_str(),
        surface_reason: facts.surface_reason.as_deref(),
        model: Some(facts.model_label.as_str()).filter(|m| !m.is_empty()),
    };
    out.over_budget = task_link::write(cfg, common, &call, store, fin).over_budget;
    if idf.session_id.is_some() {
        out.session = session_link::write(cfg, common, facts.usage, facts.cost.as_ref().map(|c| c.micro_usd), facts.end_ns, store, fin);
    }
    out
}

/// Ends an LLM call: its span, stats, log records and warning lines go into `out`.
pub(super) fn finish<S: SharedData>(cfg: &Config, common: Common, guard: GuardState, mut llm: Llm, end: &EndInfo, now: u64, store: &mut S, out: &mut Finished) {
    let facts = Facts::gather(cfg, &common, &guard, &llm, end, now);
    let rollup = roll_up(cfg, &common, &facts, store, out);
    let mut span = build_span(cfg, &common, &mut llm, &facts, &rollup);
    // remember the tools asked for, so their spans can link back here
    if let (true, Some(sid)) = (cfg.sessions.enabled, &common.identity.session_id) {
        for tc in &llm.extraction.call.tool_calls {
            tool_links::remember(store, sid, &tc.name, &tc.id, &span.trace_id, &span.span_id, facts.end_ns / 1_000_000);
        }
    }
    let what = || format!("a request to {} ({})", common.host, facts.provider);
    guard.record(cfg, &what, &mut out.stats, &mut out.warnings).apply(&mut span);
    // defence in depth: no string from the wire leaves in telemetry without the guard's
    // detectors (genai-tap's own constants and hex digests cannot carry anything)
    sanitize_span(cfg, &mut span);
    push_stats(&facts, &llm, &common, &mut out.stats);
    if let Some(v) = span.attr(attr::TAP_SPEC_VERSION).and_then(|v| match v {
        crate::span::AttrValue::Str(s) => Some(s.to_string()),
        _ => None,
    }) {
        out.versions.push((crate::active::Kind::Spec, v));
    }
    if !facts.model_label.is_empty() {
        out.versions.push((crate::active::Kind::Model, facts.model_label.clone()));
    }
    let notable = matches!(facts.outcome, Outcome::Surfaced | Outcome::Blocked | Outcome::Errored);
    let gap = if notable || rollup.over_budget {
        let (kind, reason) = match facts.outcome {
            Outcome::Surfaced => ("surfaced", facts.surface_reason.clone().unwrap_or_default()),
            Outcome::Blocked => ("blocked", guard.blocked.clone().unwrap_or_default()),
            Outcome::Errored => ("errored", facts.error_type.clone().unwrap_or_default()),
            _ => ("over_budget", String::new()),
        };
        Some(logs::Gap { kind, reason })
    } else {
        None
    };
    out.logs.extend(logs::records(cfg, &span, &common, gap, notable, llm.captured.take()));
    out.spans.push(span);
}

fn build_span(cfg: &Config, common: &Common, llm: &mut Llm, f: &Facts, rollup: &Rollup) -> Span {
    let name = if f.request_model.is_empty() { f.operation.to_owned() } else { format!("{} {}", f.operation, f.request_model) };
    let mut span = common.span(common.span_id, name, f.end_ns, 32);
    let x = &mut llm.extraction;
    let not_parsed = x.not_parsed();
    let call = &mut x.call;
    span.set_const(attr::GEN_AI_OPERATION_NAME, f.operation);
    span.set_const(attr::GEN_AI_PROVIDER_NAME, f.provider);
    if cfg.gen_ai_system {
        span.set_const(attr::GEN_AI_SYSTEM, f.provider);
    }
    if !f.request_model.is_empty() {
        span.set(attr::GEN_AI_REQUEST_MODEL, f.request_model.as_str());
    }
    span.set_some(attr::GEN_AI_RESPONSE_MODEL, call.response_model.take());
    span.set_some(attr::GEN_AI_RESPONSE_ID, call.response_id.take());
    if !call.finish_reasons.is_empty() {
        span.set(attr::GEN_AI_RESPONSE_FINISH_REASONS, std::mem::take(&mut call.finish_reasons));
    }
    let u = f.usage;
    span.set_some(attr::GEN_AI_USAGE_INPUT_TOKENS, u.input);
    span.set_some(attr::GEN_AI_USAGE_OUTPUT_TOKENS, u.output);
    span.set_some(attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, u.cache_read);
    span.set_some(attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, u.cache_write);
    span.set_some(attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, u.reasoning);
    let p = &call.params;
    span.set_some(attr::GEN_AI_REQUEST_MAX_TOKENS, p.max_tokens);
    span.set_some(attr::GEN_AI_REQUEST_TEMPERATURE, p.temperature);
    span.set_some(attr::GEN_AI_REQUEST_TOP_P, p.top_p);
    span.set_some(attr::GEN_AI_REQUEST_TOP_K, p.top_k);
    span.set_some(attr::GEN_AI_REQUEST_SEED, p.seed);
    span.set_some(attr::GEN_AI_REQUEST_CHOICE_COUNT, p.choice_count);
    span.set_some(attr::GEN_AI_REQUEST_FREQUENCY_PENALTY, p.frequency_penalty);
    span.set_some(attr::GEN_AI_REQUEST_PRESENCE_PENALTY, p.presence_penalty);
    if !p.stop_sequences.is_empty() {
        span.set(attr::GEN_AI_REQUEST_STOP_SEQUENCES, p.stop_sequences.clone());
    }
    if p.stream.is_some() || x.detected.path_stream {
        span.set(attr::GEN_AI_REQUEST_STREAM, f.streaming);
    }
    if !call.tool_calls.is_empty() {
        span.set(attr::TAP_TOOL_CALL_NAMES, call.tool_calls.iter().map(|t| t.name.clone()).collect::<Vec<_>>());
        span.set(attr::TAP_TOOL_CALL_IDS, call.tool_calls.iter().map(|t| t.id.clone()).collect::<Vec<_>>());
        // who runs each tool, in `gen_ai.tool.type`'s values: a built-in tool the provider ran
        // (web search, file search, MCP, code interpreter) is not one the agent executes
        span.set(attr::TAP_TOOL_CALL_TYPES, call.tool_calls.iter().map(|t| t.tool_type.semconv_name().to_owned()).collect::<Vec<_>>());
    }
    common.set_http_attributes(&mut span);
    span.set_const(attr::TAP_ROUTE_KIND, llm.route_kind.as_str());
    span.set(attr::TAP_MODEL_TIER, f.tier.as_str());

    // timing
    if let (true, Some(ttfc)) = (f.streaming, f.ttfc_ns) {
        span.set(attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc as f64 / 1e9);
    }
    if let (true, Some(first), Some(last)) = (f.streaming, x.timing.first_content_ns, x.timing.last_content_ns) {
        let gen_ms = last.saturating_sub(first) as f64 / 1e6;
        span.set(attr::TAP_GENERATION_TIME_MS, gen_ms);
        if let Some(out_tokens) = u.output.filter(|n| *n > 1) {
            span.set(attr::TAP_TIME_PER_OUTPUT_TOKEN_MS, gen_ms / (out_tokens - 1) as f64);
        }
    }
    if let Some(n) = f.state_bytes {
        span.set(attr::TAP_STATE_BYTES, n as u64);
    }
    span.set(attr::TAP_REQUEST_BYTES, common.request_bytes);
    span.set(attr::TAP_RESPONSE_BYTES, common.response_bytes);

    // outcome
    span.set_const(attr::TAP_STEP_TYPE, f.step);
    span.set_some(attr::TAP_SURFACE_REASON, f.surface_reason.clone());
    span.set_const(attr::TAP_OUTCOME, f.outcome.as_str());
    span.set(attr::TAP_PARSED, not_parsed.is_none());
    if let Some(n) = not_parsed {
        span.set_const(attr::TAP_NOT_PARSED_REASON, n.as_str());
    }
    // usage is partial when the call stopped early, or a stream ended without its provider's
    // terminal event
    let partial = f.outcome.stopped_early() || (f.streaming && !x.call.stream_complete && not_parsed.is_none());
    if partial && f.has_usage() {
        span.set(attr::TAP_USAGE_PARTIAL, true);
    }
    if let Some(e) = &f.error_type {
        span.set(attr::ERROR_TYPE, e.as_str());
        span.status = StatusCode::Error;
    }

    // who, which task, which version
    let idf = &common.identity;
    span.set_some(attr::USER_ID_HASH, idf.user_hash.as_deref());
    if let Some(sid) = &idf.session_id {
        span.set(attr::SESSION_ID, sid.as_str());
        span.set(attr::GEN_AI_CONVERSATION_ID, sid.as_str());
    }
    span.set_some(attr::TAP_TASK_ID, idf.task_id.as_deref());
    span.set_some(attr::TAP_SPEC_VERSION, idf.spec_version.as_deref());
    span.set_some(attr::TAP_AGENT_VERSION, idf.agent_version.as_deref());
    span.set_some(attr::GEN_AI_AGENT_NAME, idf.agent.as_deref());
    span.set_some(attr::TAP_TASK_BUDGET_MS, idf.task_budget_ms);

    // cost
    if u.input.is_some() {
        span.set(attr::TAP_USAGE_UNCACHED_INPUT_TOKENS, crate::cost::split_tokens(&u).uncached_input);
    }
    match &f.cost {
        Some(c) => {
            span.set(attr::TAP_COST_USD, c.usd);
            span.set(attr::TAP_PRICED, true);
        }
        None if f.has_usage() => span.set(attr::TAP_PRICED, false),
        None => {}
    }
    if let Some(t) = &rollup.session {
        span.set(attr::TAP_SESSION_CALLS, t.calls);
        span.set(attr::TAP_SESSION_TASKS, t.tasks);
        span.set(attr::TAP_SESSION_INPUT_TOKENS, t.input_tokens);
        span.set(attr::TAP_SESSION_OUTPUT_TOKENS, t.output_tokens);
        span.set(attr::TAP_SESSION_COST_USD, t.cost_usd());
    }

    // content by reference
    span.set(attr::TAP_RETENTION_BUCKET, cfg.content.retention_bucket.as_str());
    span.set_some(attr::TAP_PROMPT_SHA256, llm.prompt_sha256.take());
    if let Some(h) = llm.completion_hasher.take() {
        use sha2::Digest;
        if common.response_bytes > 0 {
            span.set(attr::TAP_COMPLETION_SHA256, crate::trace::to_hex(&h.finalize()));
        }
    }
    span
}

fn push_stats(f: &Facts, llm: &Llm, common: &Common, s: &mut Vec<StatUpdate>) {
    // the constants are borrowed; only the model and the identity values are copied
    let (provider, operation) = (Cow::Borrowed(f.provider), Cow::Borrowed(f.operation));
    let model = || Cow::Owned(f.model_label.clone());
    let owned = |v: &str| Cow::Owned(v.to_owned());
    let route = Cow::Borrowed(llm.route_kind.as_str());
    let outcome = Cow::Borrowed(f.outcome.as_str());
    let idf = &common.identity;
    let agent = idf.agent.as_deref();
    s.reserve(10);
    let mut calls = Vec::with_capacity(6);
    calls.extend([("provider", provider.clone()), ("model", model()), ("operation", operation.clone()), ("route", route), ("outcome", outcome.clone())]);
    calls.extend(agent.map(|a| ("agent", owned(a))));
    s.push(StatUpdate::labelled(stats::LLM_CALLS, calls, 1));
    let u = f.usage;
    let tokens = [
        ("input", u.input),
        ("output", u.output),
        ("cached_input", u.cache_read),
        ("cache_write", u.cache_write),
        ("reasoning", u.reasoning),
        ("uncached_input", u.input.map(|_| crate::cost::split_tokens(&u).uncached_input)),
    ];
    for (kind, value) in tokens {
        if let Some(v) = value.filter(|v| *v > 0) {
            let labels = vec![("provider", provider.clone()), ("model", model()), ("type", Cow::Borrowed(kind))];
            s.push(StatUpdate::labelled(stats::LLM_TOKENS, labels, i64::try_from(v).unwrap_or(i64::MAX)));
        }
    }
    if f.streaming {
        if let Some(ttfc) = f.ttfc_ns {
            s.push(StatUpdate::labelled(stats::LLM_TTFC_MS, vec![("provider", provider.clone()), ("model", model())], (ttfc / 1_000_000) as i64));
        }
    }
    // what a stream or a guarded request body holds is the filter's memory cost per
    // connection: operators size by it
    if let Some(n) = f.state_bytes {
        s.push(StatUpdate::labelled(stats::STREAM_STATE_BYTES, vec![("provider", provider.clone())], n as i64));
    }
    let duration_ms = f.end_ns.saturating_sub(common.start_ns) / 1_000_000;
    let labels = vec![("provider", provider.clone()), ("model", model()), ("operation", operation)];
    s.push(StatUpdate::labelled(stats::LLM_DURATION_MS, labels, duration_ms as i64));
    s.push(StatUpdate::labelled(stats::LLM_STEPS, vec![("step", Cow::Borrowed(f.step))], 1));
    match &f.cost {
        Some(c) if c.micro_usd > 0 => {
            let labels = vec![("provider", provider.clone()), ("model", model())];
            s.push(StatUpdate::labelled(stats::LLM_COST_MICRO_USD, labels, i64::try_from(c.micro_usd).unwrap_or(i64::MAX)));
        }
        Some(_) => {}
        None if f.has_usage() => s.push(StatUpdate::labelled(stats::LLM_UNPRICED_CALLS, vec![("provider", provider.clone()), ("model", model())], 1)),
        None => {}
    }
    // cohorts: calls by spec and agent version, for pre/post-change comparisons
    let mut cohort = Vec::with_capacity(4);
    cohort.push(("outcome", outcome));
    cohort.extend(idf.spec_version.as_deref().map(|v| ("spec_version", owned(v))));
    cohort.extend(idf.agent_version.as_deref().map(|v| ("agent_version", owned(v))));
    cohort.extend(agent.map(|a| ("agent", owned(a))));
    s.push(StatUpdate::labelled(stats::COHORT_CALLS, cohort, 1));
    if let Some(c) = f.cost.as_ref().filter(|c| c.micro_usd > 0) {
        s.push(StatUpdate::new(stats::TIER_COST_MICRO_USD, &[("tier", f.tier.as_str())], i64::try_from(c.micro_usd).unwrap_or(i64::MAX)));
    }
    if let Some(np) = llm.extraction.not_parsed() {
        s.push(StatUpdate::labelled(stats::BODIES_NOT_PARSED, vec![("reason", Cow::Borrowed(np.as_str()))], 1));
    }
}
