use super::*;
use crate::span::{attr, AttrValue, Span, SpanKind};
use crate::session::{SetError, SharedData, MAX_TEXT};
use std::collections::HashMap;

/// Envoy's shared data: a token per key, bumped on every write.
#[derive(Default, Clone)]
struct Shared(HashMap<String, (Vec<u8>, u32)>);

impl SharedData for Shared {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.0.get(key) {
            Some((v, c)) => (Some(v.clone()), Some(*c)),
            None => (None, None),
        }
    }
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        let cur = self.0.get(key).map(|e| e.1);
        if cas.is_some() && cas != cur {
            return Err(SetError::CasMismatch);
        }
        self.0.insert(key.to_owned(), (value.to_vec(), cur.unwrap_or(0) + 1));
        Ok(())
    }
}

fn cfg() -> Limits {
    Limits { idle_ttl_ms: 30 * 60_000, task_idle_timeout_ms: 60_000, ..Limits::default() }
}

const T0: u64 = 1_764_000_000_000;

fn llm<'a>(task: &'a str, at: u64, input: u64, output: u64, cached: u64, reasoning: u64, cost: Option<u64>, outcome: &'a str, model: &'a str) -> CallDelta<'a> {
    CallDelta {
        task_id: task,
        llm: true,
        start_ms: at,
        end_ms: at + 500,
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: cached,
        uncached_input_tokens: input - cached,
        reasoning_tokens: reasoning,
        cost_micro_usd: cost,
        outcome,
        model: Some(model),
        spec_version: Some("spec-7"),
        agent_version: Some("agent-1.2"),
        trace_id: [at as u8 | 1; 16],
        span_id: [at as u8 | 1; 8],
        ..CallDelta::default()
    }
}

fn attr_i(span: &Span, key: &str) -> i64 {
    match span.attr(key) {
        Some(AttrValue::Int(v)) => *v,
        other => panic!("{key}: {other:?}"),
    }
}

fn attr_s<'a>(span: &'a Span, key: &str) -> &'a str {
    match span.attr(key) {
        Some(AttrValue::Str(v)) => v,
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn a_task_adds_up_and_ends_once_by_its_header() {
    let cfg = cfg();
    let mut s = Shared::default();
    let steps = [
        llm("t-1", T0, 1000, 200, 600, 50, Some(3000), "completed", "gpt-4o-2024-08-06"),
        llm("t-1", T0 + 1000, 1500, 300, 1000, 0, None, "completed", "claude-sonnet-4"),
        llm("t-1", T0 + 2000, 10, 5, 0, 0, Some(7), "completed", "gpt-4o-2024-08-06"),
    ];
    for d in &steps {
        let (_, a) = record_call(&mut s, &cfg, d, d.end_ms).unwrap();
        assert!(!a.ended);
        assert_eq!(a.record.state, State::Live);
    }
    let tool = CallDelta { task_id: "t-1", llm: false, start_ms: T0 + 2600, end_ms: T0 + 2700, outcome: "completed", ..CallDelta::default() };
    record_call(&mut s, &cfg, &tool, T0 + 2700).unwrap();
    let mut last = llm("t-1", T0 + 3000, 100, 10, 0, 5, Some(90), "completed", "gpt-4o-2024-08-06");
    last.end = Some("completed");
    let (_, a) = record_call(&mut s, &cfg, &last, T0 + 3500).unwrap();
    assert!(a.ended);
    let r = &a.record;
    assert_eq!(r.state, State::EndedByHeader);
    assert_eq!((r.llm_calls, r.tool_calls), (4, 1));
    assert_eq!((r.input_tokens, r.output_tokens), (2610, 515));
    assert_eq!((r.cached_input_tokens, r.uncached_input_tokens, r.reasoning_tokens), (1600, 1010, 55));
    assert_eq!((r.cost_micro_usd, r.unpriced_calls), (3097, 1));
    assert_eq!((r.start_ms, r.end_ms), (T0, T0 + 3500));
    assert_eq!(r.models, vec!["gpt-4o-2024-08-06".to_owned(), "claude-sonnet-4".to_owned()]);
    assert_eq!((r.outcome(), r.first_pass()), ("completed", true));
    let span = span(r, [9; 8], [8; 16]);
    assert_eq!((span.name.as_str(), span.kind), ("invoke_agent", SpanKind::Internal));
    assert_eq!(span.trace_id, [T0 as u8 | 1; 16], "joins the first call's trace");
    assert_eq!(span.links.len(), MAX_LINKS);
    assert_eq!(attr_i(&span, attr::GEN_AI_USAGE_INPUT_TOKENS), 2610);
    assert_eq!(attr_i(&span, attr::TAP_TASK_DURATION_MS), 3500);
    assert_eq!(attr_s(&span, attr::TAP_TASK_OUTCOME), "completed");
    assert_eq!(attr_s(&span, attr::TAP_SPEC_VERSION), "spec-7");
    assert_eq!(attr_s(&span, attr::GEN_AI_AGENT_VERSION), "agent-1.2");
    assert_eq!(span.attr(attr::TAP_COST_USD), Some(&AttrValue::F64(0.003097)));
    let log = log_record(&span);
    assert_eq!((log.event_name, log.trace_id, log.span_id), ("genai_tap.task.record", span.trace_id, span.span_id));
    assert_eq!(log.attributes, span.attributes);
    // the tick now finds an ended task: nothing to emit, stop watching
    let key = SlotKey::task(&cfg, "t-1");
    assert_eq!(check_slot(&mut s, &cfg, 60_000, key.slot(), T0 + 10 * 60_000).unwrap(), Check::Forget);
    // the same id after the end is a new task
    let (_, a) = record_call(&mut s, &cfg, &llm("t-1", T0 + 5000, 1, 1, 0, 0, Some(1), "completed", "m"), T0 + 5500).unwrap();
    assert_eq!((a.record.llm_calls, a.record.start_ms, a.ended), (1, T0 + 5000, false));
}

#[test]
fn an_idle_task_is_ended_by_exactly_one_worker() {
    let cfg = cfg();
    let mut s = Shared::default();
    let d = llm("t-idle", T0, 100, 20, 0, 0, Some(10), "surfaced", "gpt-4o");
    let d = CallDelta { surface_reason: Some("needs_approval"), ..d };
    let (key, _) = record_call(&mut s, &cfg, &d, T0 + 500).unwrap();
    let slot = key.slot();
    // not idle yet: one millisecond short of the timeout after the last call
    assert_eq!(check_slot(&mut s, &cfg, 60_000, slot, T0 + 500 + 59_999).unwrap(), Check::Live);
    // two workers read the same live record; the first CAS wins, the second re-reads it ended
    let k = key.shared_data_key().to_owned();
    let (a_prev, a_cas) = s.get(&k);
    let (b_prev, b_cas) = s.get(&k);
    let now = T0 + 500 + 60_000;
    let (a_bytes, a) = apply_check(&cfg, 60_000, a_prev.as_deref(), now);
    let (b_bytes, _) = apply_check(&cfg, 60_000, b_prev.as_deref(), now);
    s.set(&k, &a_bytes.unwrap(), a_cas).unwrap();
    assert_eq!(s.set(&k, &b_bytes.unwrap(), b_cas), Err(SetError::CasMismatch));
    assert_eq!(check_slot(&mut s, &cfg, 60_000, slot, now).unwrap(), Check::Forget, "the loser learns it was emitted");
    let Check::Changed { record, ended: true, newly_over_budget: false } = a else { panic!("{a:?}") };
    assert_eq!(record.state, State::EndedIdle);
    assert_eq!((record.outcome(), record.end_ms), ("surfaced", T0 + 500), "a surfaced task waits for a person; it ends at its last activity");
    assert_eq!(record.surface_reason, "needs_approval");
    assert!(!record.first_pass());
    // a task that just stops calling, without a surface, timed out
    let mut s2 = Shared::default();
    let (key, _) = record_call(&mut s2, &cfg, &llm("t-quiet", T0, 1, 1, 0, 0, Some(1), "completed", "m"), T0).unwrap();
    let Check::Changed { record, ended: true, .. } = check_slot(&mut s2, &cfg, 60_000, key.slot(), T0 + 60_500).unwrap() else { panic!() };
    assert_eq!(record.outcome(), "timed_out");
    // a surfaced task that declared its end keeps the reason on the record
    let mut s = Shared::default();
    let mut d2 = d.clone();
    d2.end = Some("");
    let (_, a) = record_call(&mut s, &cfg, &d2, T0 + 500).unwrap();
    let sp = span(&a.record, [1; 8], [1; 16]);
    assert_eq!(attr_s(&sp, attr::TAP_TASK_OUTCOME), "surfaced");
    assert_eq!(attr_s(&sp, attr::TAP_SURFACE_REASON), "needs_approval");
    assert_eq!(attr_s(&sp, attr::TAP_TASK_END_REASON), "header");
}

#[test]
fn the_tick_flags_a_runaway_task_while_it_runs_and_counts_it_once() {
    let cfg = cfg();
    let mut s = Shared::default();
    let mut d = llm("t-run", T0, 1, 1, 0, 0, Some(1), "completed", "m");
    d.budget_ms = Some(10_000);
    let (key, a) = record_call(&mut s, &cfg, &d, T0 + 500).unwrap();
    assert!(!a.over_budget);
    // a long call is still running: no new call arrives, but the tick sees the time pass
    assert_eq!(check_slot(&mut s, &cfg, 60_000, key.slot(), T0 + 20_000).unwrap(), Check::Live, "exactly 2x is not past it");
    let c = check_slot(&mut s, &cfg, 60_000, key.slot(), T0 + 20_001).unwrap();
    let Check::Changed { record, ended: false, newly_over_budget: true } = c else { panic!("{c:?}") };
    assert!(record.over_budget());
    assert_eq!(check_slot(&mut s, &cfg, 60_000, key.slot(), T0 + 21_000).unwrap(), Check::Live, "flagged once");
    // the next call sees it over budget, but does not count it again
    let (_, a) = record_call(&mut s, &cfg, &llm("t-run", T0 + 30_000, 1, 1, 0, 0, Some(1), "completed", "m"), T0 + 30_500).unwrap();
    assert!(a.over_budget && !a.newly_over_budget);
    // a call-side flag (no tick in between) counts once too
    let mut s = Shared::default();
    let mut d = llm("t-b", T0, 1, 1, 0, 0, Some(1), "completed", "m");
    d.budget_ms = Some(1000);
    record_call(&mut s, &cfg, &d, T0).unwrap();
    let (_, a) = record_call(&mut s, &cfg, &llm("t-b", T0 + 2001, 1, 1, 0, 0, Some(1), "completed", "m"), T0 + 2001).unwrap();
    assert!(a.newly_over_budget);
    let mut end = llm("t-b", T0 + 2500, 1, 1, 0, 0, Some(1), "completed", "m");
    end.end = Some("completed");
    let (_, a) = record_call(&mut s, &cfg, &end, T0 + 3000).unwrap();
    assert!(!a.newly_over_budget && a.record.over_budget());
    assert!(!a.record.first_pass(), "over budget is not a first pass");
}

#[test]
fn budget_semantics_on_a_virtual_clock() {
    let cfg = cfg();
    let mut s = Shared::default();
    // (ms after start, budget header, elapsed, budget, over)
    let steps = [
        (0, Some(1000), 0, Some(1000), false),
        (1500, None, 1500, Some(1000), false),
        (2000, None, 2000, Some(1000), false),
        (2001, None, 2001, Some(1000), true),
        (2500, Some(5000), 2500, Some(5000), false),
        (12_000, None, 12_000, Some(1000), true),
    ];
    for (dt, header, elapsed, budget, over) in steps {
        let mut d = llm("task-1", T0 + dt, 1, 1, 0, 0, Some(1), "completed", "m");
        d.budget_ms = header;
        let (_, a) = record_call(&mut s, &cfg, &d, T0 + dt).unwrap();
        assert_eq!((a.elapsed_ms, a.budget_ms, a.over_budget, a.record.start_ms), (elapsed, budget, over, T0), "t+{dt}");
    }
    // a clock that steps back does not underflow
    let (_, a) = record_call(&mut s, &cfg, &llm("task-1", T0 - 5, 1, 1, 0, 0, Some(1), "completed", "m"), T0).unwrap();
    assert_eq!((a.elapsed_ms, a.record.start_ms), (0, T0 - 5));
}

#[test]
fn declared_and_derived_outcomes() {
    let cfg = cfg();
    // (call outcomes, end header, task outcome, first pass)
    let cases: [(&[&str], &str, &str, bool); 6] = [
        (&["completed", "completed"], "", "completed", true),
        (&["errored", "completed"], "", "completed", false),
        (&["completed", "errored"], "", "errored", false),
        (&["completed", "completed"], "surfaced", "surfaced", false),
        (&["completed", "surfaced"], "done", "surfaced", false),
        (&["blocked"], "ERRORED", "errored", false),
    ];
    for (calls, header, want, first_pass) in cases {
        let mut s = Shared::default();
        let mut last = None;
        for (i, o) in calls.iter().enumerate() {
            let mut d = llm("t", T0 + i as u64, 1, 1, 0, 0, Some(1), o, "m");
            if i + 1 == calls.len() {
                d.end = Some(header);
            }
            last = Some(record_call(&mut s, &cfg, &d, T0 + 10).unwrap().1);
        }
        let r = last.unwrap().record;
        assert_eq!((r.outcome(), r.first_pass()), (want, first_pass), "{calls:?} {header:?}");
    }
}

#[test]
fn records_are_bounded_and_bad_bytes_are_forgotten() {
    let cfg = cfg();
    let long = "é".repeat(200);
    let mut s = Shared::default();
    for i in 0..10 {
        let model = format!("{long}{i}");
        let mut d = llm(&long, T0 + i, 1, 1, 0, 0, Some(1), "surfaced", "m");
        d.model = Some(&model);
        d.surface_reason = Some(&long);
        d.spec_version = Some(&long);
        let model2 = model.clone();
        let d = CallDelta { model: Some(&model2), ..d };
        record_call(&mut s, &cfg, &d, T0 + i).unwrap();
    }
    let (bytes, _) = s.get(SlotKey::task(&cfg, &long).shared_data_key());
    let bytes = bytes.unwrap();
    assert!(bytes.len() <= MAX_RECORD_LEN, "{}", bytes.len());
    let r = TaskRecord::decode(&bytes).unwrap();
    assert_eq!((r.models.len(), r.links.len(), r.llm_calls), (1, MAX_LINKS, 10), "the same cut model is one model");
    assert!(r.task_id.len() <= MAX_TEXT && r.task_id.chars().all(|c| c == 'é'));
    for n in 0..bytes.len() {
        assert_eq!(apply_check(&cfg, 60_000, Some(&bytes[..n]), T0), (None, Check::Forget), "{n}");
    }
}

proptest::proptest! {
    #[test]
    fn any_bytes_are_handled(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..900), now in 0u64..u64::MAX / 2) {
        let cfg = cfg();
        let key = SlotKey::task(&cfg, "t");
        let a = apply_call(&cfg, &key, Some(&bytes), &llm("t", now, 1, 1, 0, 0, Some(1), "completed", "m"), now);
        proptest::prop_assert!(TaskRecord::decode(&a.record.encode()).is_some());
        let _ = apply_check(&cfg, 60_000, Some(&bytes), now);
    }
}
