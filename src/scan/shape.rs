//! Secret rules checked by hand: the common token shape "literals and runs of one byte class".
//!
//! This module owns a matcher for a small subset of regex syntax: literals, `(?:a|b)`
//! alternations of literals (a single-byte class inside one is expanded), byte classes and `\d`
//! with a quantifier, `\b`, and one capture group. Most rule patterns (`ghp_[0-9a-zA-Z]{36}`,
//! `\b((?:A3T[A-Z0-9]|AKIA)[A-Z2-7]{16})\b`, `SG\.[...]{22}\.[...]{43}`) are in it. It does not
//! own the rules, the windows around keyword hits, or anything outside that subset: a pattern
//! it cannot read stays with regex-lite, whose PikeVM costs some hundred instructions a byte.
//!
//! Semantics are regex-lite's leftmost-first on the same window (classes and `\b` are ASCII,
//! as there): start positions are tried left to right, and at each one the alternatives in
//! order and quantifiers greedily, backtracking on failure. A test compares the two on random
//! windows for every rule that has a shape.

/// One step of a shape.
#[derive(Debug, Clone)]
enum Step {
    /// One of these literals, tried in order (an empty literal makes the group optional).
    /// `first` holds the bytes a non-empty one can start with, so most positions cost one
    /// lookup; with `nocase` they compare ASCII-case-insensitively.
    Literals { alts: Vec<Vec<u8>>, first: Box<[bool; 256]>, nocase: bool },
    /// `min..=max` characters of a class, greedy. A class that takes non-ASCII (a negated
    /// one) takes a whole UTF-8 character, as the regex does on `str`.
    Run { class: Box<[bool; 256]>, min: usize, max: usize, ascii: bool },
    /// `\b`.
    Boundary,
    /// Where capture group 1 starts or ends.
    GroupStart,
    GroupEnd,
}

/// A rule pattern compiled to steps.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    steps: Vec<Step>,
    /// The bytes a match can start with, when the first step that consumes a byte must
    /// (`None`: any byte, for an optional first step). Most start positions fail here, with
    /// one lookup instead of a call into the matcher.
    first: Option<Box<[bool; 256]>>,
    /// Per step: the bytes the input after it must start with (`first` of the steps after),
    /// and whether a `\b` comes right after it. A run backtracking over its lengths skips
    /// the lengths these rule out without a call per length.
    follow: Vec<(Option<Box<[bool; 256]>>, bool)>,
    has_group: bool,
}

/// A match: the whole span and the span of group 1 (the whole when there is no group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    pub start: usize,
    pub end: usize,
    pub group: (usize, usize),
}

/// Backtracking steps per start position before the matcher gives up (and the caller falls
/// back to the regex): far more than any token needs, and a bound on adversarial input.
const BUDGET: usize = 4096;

/// The step budget of [`Shape::find`] ran out: the answer is unknown, so ask the regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfBudget;

impl Shape {
    /// The shape of `pattern`, or `None` when it uses syntax outside the subset.
    pub(crate) fn parse(pattern: &str) -> Option<Shape> {
        let (nocase, pattern) = match pattern.strip_prefix("(?i)") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let mut p = Parser { s: pattern.as_bytes(), i: 0, nocase };
        let mut steps = Vec::new();
        let mut groups = 0;
        while let Some(c) = p.peek() {
            match c {
                b'(' if p.s[p.i..].starts_with(b"(?:") => {
                    p.i += 3;
                    let alts = p.alternation()?;
                    let (min, max) = p.quantifier()?.unwrap_or((1, 1));
                    match (min, max) {
                        (1, 1) => steps.push(literals(alts, nocase)),
                        (0, 1) => {
                            let mut alts = alts;
                            alts.push(Vec::new());
                            steps.push(literals(alts, nocase));
                        }
                        _ => return None,
                    }
                }
                b'(' if p.s.get(p.i + 1) != Some(&b'?') => {
                    p.i += 1;
                    groups += 1;
                    if groups > 1 {
                        return None;
                    }
                    steps.push(Step::GroupStart);
                }
                b')' => {
                    p.i += 1;
                    if !matches!(steps.iter().filter(|s| matches!(s, Step::GroupStart)).count(), 1)
                        || steps.iter().any(|s| matches!(s, Step::GroupEnd))
                    {
                        return None;
                    }
                    steps.push(Step::GroupEnd);
                }
                b'\\' if p.s.get(p.i + 1) == Some(&b'b') => {
                    p.i += 2;
                    steps.push(Step::Boundary);
                }
                _ => {
                    let class = p.atom()?;
                    match p.quantifier()? {
                        Some((min, max)) => steps.push(run(class, min, max)),
                        None => {
                            let bytes: Vec<u8> = (0..=255u8).filter(|b| class[*b as usize]).collect();
                            match bytes.as_slice() {
                                // a literal byte: merge into the literal before it
                                [b] => match steps.last_mut() {
                                    Some(Step::Literals { alts, .. }) if alts.len() == 1 => alts[0].push(*b),
                                    _ => steps.push(literals(vec![vec![*b]], nocase)),
                                },
                                _ => steps.push(run(class, 1, 1)),
                            }
                        }
                    }
                }
            }
        }
        let starts = steps.iter().filter(|s| matches!(s, Step::GroupStart)).count();
        let ends = steps.iter().filter(|s| matches!(s, Step::GroupEnd)).count();
        if starts != ends {
            return None;
        }
        let first = first_bytes(&steps);
        let has_group = steps.iter().any(|s| matches!(s, Step::GroupStart));
        let follow = (0..steps.len())
            .map(|k| (first_bytes(&steps[k + 1..]), matches!(steps.get(k + 1), Some(Step::Boundary))))
            .collect();
        Some(Shape { steps, first, follow, has_group })
    }

    /// The leftmost-first match of the shape in `text` that starts in `from..=last_start`.
    /// `None` when there is none, and `Err` when the step budget ran out (ask the regex).
    pub(crate) fn find(&self, text: &[u8], from: usize, last_start: usize) -> Result<Option<Match>, OutOfBudget> {
        let last = last_start.min(text.len());
        for start in from..=last {
            if let Some(first) = &self.first {
                if text.get(start).is_none_or(|b| !first[*b as usize]) {
                    continue;
                }
            }
            let mut budget = BUDGET;
            let mut group = (start, start);
            match self.at(text, 0, start, &mut group, &mut budget) {
                Some(end) => {
                    let group = if self.has_group { group } else { (start, end) };
                    return Ok(Some(Match { start, end, group }));
                }
                None if budget == 0 => return Err(OutOfBudget),
                None => {}
            }
        }
        Ok(None)
    }

    /// Matches steps `k..` at `pos`; the end of the match, in priority order.
    fn at(&self, text: &[u8], k: usize, pos: usize, group: &mut (usize, usize), budget: &mut usize) -> Option<usize> {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let Some(step) = self.steps.get(k) else { return Some(pos) };
        match step {
            Step::Boundary => {
                if is_word_at(text, pos.wrapping_sub(1)) != is_word_at(text, pos) {
                    self.at(text, k + 1, pos, group, budget)
                } else {
                    None
                }
            }
            Step::GroupStart => {
                let end = self.at(text, k + 1, pos, group, budget)?;
                group.0 = pos;
                Some(end)
            }
            Step::GroupEnd => {
                let end = self.at(text, k + 1, pos, group, budget)?;
                group.1 = pos;
                Some(end)
            }
            Step::Literals { alts, first, nocase } => {
                let rest = text.get(pos..).unwrap_or_default();
                if rest.first().is_some_and(|b| !first[*b as usize]) && alts.iter().all(|a| !a.is_empty()) {
                    return None;
                }
                alts.iter().find_map(|lit| {
                    let head = rest.get(..lit.len())?;
                    let same = if *nocase { head.eq_ignore_ascii_case(lit) } else { head == lit.as_slice() };
                    if same {
                        self.at(text, k + 1, pos + lit.len(), group, budget)
                    } else {
                        None
                    }
                })
            }
            Step::Run { class, min, max, ascii } => {
                let rest = text.get(pos..).unwrap_or_default();
                if *ascii {
                    let avail = rest.iter().take(*max).take_while(|b| class[**b as usize]).count();
                    if avail < *min {
                        return None;
                    }
                    let (next, boundary) = &self.follow[k];
                    return (*min..=avail).rev().find_map(|n| {
                        let end = pos + n;
                        let fits = next.as_ref().is_none_or(|f| text.get(end).is_some_and(|b| f[*b as usize]))
                            && (!boundary || is_word_at(text, end.wrapping_sub(1)) != is_word_at(text, end));
                        if fits {
                            self.at(text, k + 1, end, group, budget)
                        } else {
                            None
                        }
                    });
                }
                // by character: where each one ends
                let mut ends = Vec::new();
                let mut at = 0;
                while ends.len() < *max {
                    let Some(&b) = rest.get(at) else { break };
                    if !class[b as usize] {
                        break;
                    }
                    at += utf8_len(b);
                    if at > rest.len() {
                        break;
                    }
                    ends.push(at);
                }
                if ends.len() < *min {
                    return None;
                }
                (*min..=ends.len()).rev().find_map(|n| self.at(text, k + 1, pos + if n == 0 { 0 } else { ends[n - 1] }, group, budget))
            }
        }
    }
}

fn run(class: [bool; 256], min: usize, max: usize) -> Step {
    let ascii = class[0x80..].iter().all(|b| !b);
    Step::Run { class: Box::new(class), min, max, ascii }
}

/// What the first byte of any match must be: the first step that consumes input decides,
/// unless it can match empty (an optional literal group, a run with `min` 0).
fn first_bytes(steps: &[Step]) -> Option<Box<[bool; 256]>> {
    for step in steps {
        match step {
            Step::Boundary | Step::GroupStart | Step::GroupEnd => continue,
            Step::Literals { alts, first, .. } if alts.iter().all(|a| !a.is_empty()) => return Some(first.clone()),
            Step::Run { class, min, .. } if *min > 0 => return Some(class.clone()),
            _ => return None,
        }
    }
    None
}

fn literals(alts: Vec<Vec<u8>>, nocase: bool) -> Step {
    let mut first = [false; 256];
    for a in &alts {
        if let Some(b) = a.first() {
            first[*b as usize] = true;
            if nocase {
                first[b.to_ascii_lowercase() as usize] = true;
                first[b.to_ascii_uppercase() as usize] = true;
            }
        }
    }
    Step::Literals { alts, first: Box::new(first), nocase }
}

/// The length of the UTF-8 sequence a byte starts (1 for a stray continuation byte).
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn is_word_at(text: &[u8], i: usize) -> bool {
    text.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// `(?i)`: letters match in either case.
    nocase: bool,
}

/// regex-lite's `\s`: ASCII whitespace.
const SPACE: &[u8] = b" \t\n\x0B\x0C\r";

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// A literal byte, an escape, `\d` or a `[...]` class, as the set of bytes it matches.
    fn atom(&mut self) -> Option<[bool; 256]> {
        let mut set = self.atom_as_written()?;
        if self.nocase {
            for b in b'a'..=b'z' {
                let either = set[b as usize] || set[b.to_ascii_uppercase() as usize];
                set[b as usize] = either;
                set[b.to_ascii_uppercase() as usize] = either;
            }
        }
        Some(set)
    }

    fn atom_as_written(&mut self) -> Option<[bool; 256]> {
        let mut set = [false; 256];
        match self.peek()? {
            b'[' => {
                self.i += 1;
                let negated = self.peek()? == b'^';
                if negated {
                    self.i += 1;
                }
                loop {
                    let c = self.peek()?;
                    if c == b']' {
                        self.i += 1;
                        break;
                    }
                    if self.s[self.i..].starts_with(b"\\s") {
                        self.i += 2;
                        SPACE.iter().for_each(|b| set[*b as usize] = true);
                        continue;
                    }
                    let lo = self.class_byte()?;
                    if self.peek() == Some(b'-') && self.s.get(self.i + 1) != Some(&b']') {
                        self.i += 1;
                        let hi = self.class_byte()?;
                        if hi < lo {
                            return None;
                        }
                        for b in lo..=hi {
                            set[b as usize] = true;
                        }
                    } else {
                        set[lo as usize] = true;
                    }
                }
                if negated {
                    // a negated class takes every other character, non-ASCII ones included
                    set.iter_mut().for_each(|b| *b = !*b);
                    set[0x80..].iter_mut().for_each(|b| *b = true);
                }
            }
            b'\\' => {
                self.i += 1;
                let c = self.peek()?;
                self.i += 1;
                match c {
                    b'd' => (b'0'..=b'9').for_each(|b| set[b as usize] = true),
                    b's' => SPACE.iter().for_each(|b| set[*b as usize] = true),
                    b'.' | b'-' | b'/' | b'+' | b'=' | b'_' | b'~' | b':' | b'\\' => set[c as usize] = true,
                    _ => return None,
                }
            }
            c if c.is_ascii_alphanumeric() || b"-_/=:;~ \"'&,<>".contains(&c) => {
                self.i += 1;
                set[c as usize] = true;
            }
            _ => return None,
        }
        Some(set)
    }

    /// A byte inside `[...]`: plain, or `\-`-style escaped; `\d` is not allowed there.
    fn class_byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\\' {
            let e = self.peek()?;
            self.i += 1;
            return b".-/+=_~\\".contains(&e).then_some(e);
        }
        (c.is_ascii_graphic() && !b"[\\".contains(&c) || c == b' ').then_some(c)
    }

    /// `{n}`, `{n,}`, `{n,m}`, `*`, `+` or `?`; `None` when there is none.
    fn quantifier(&mut self) -> Option<Option<(usize, usize)>> {
        const MANY: usize = 1 << 16;
        let q = match self.peek() {
            Some(b'*') => (0, MANY),
            Some(b'+') => (1, MANY),
            Some(b'?') => (0, 1),
            Some(b'{') => {
                let close = self.s[self.i..].iter().position(|b| *b == b'}')? + self.i;
                let inner = std::str::from_utf8(&self.s[self.i + 1..close]).ok()?;
                let (min, max) = match inner.split_once(',') {
                    None => (inner.parse().ok()?, inner.parse().ok()?),
                    Some((a, "")) => (a.parse().ok()?, MANY),
                    Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                };
                self.i = close;
                (min, max)
            }
            _ => return Some(None),
        };
        self.i += 1;
        // a lazy or possessive quantifier is outside the subset
        if matches!(self.peek(), Some(b'?') | Some(b'+')) {
            return None;
        }
        Some(Some(q))
    }

    /// The alternatives of a `(?:...)` group, after `(?:`, up to and including `)`. Each is a
    /// sequence of literal bytes and single-byte classes, expanded (at most 64 literals).
    fn alternation(&mut self) -> Option<Vec<Vec<u8>>> {
        let mut alts: Vec<Vec<u8>> = Vec::new();
        let mut current: Vec<Vec<u8>> = vec![Vec::new()];
        loop {
            match self.peek()? {
                b')' => {
                    self.i += 1;
                    alts.extend(current);
                    return Some(alts);
                }
                b'|' => {
                    self.i += 1;
                    alts.extend(std::mem::replace(&mut current, vec![Vec::new()]));
                }
                b'(' => return None,
                _ => {
                    let set = self.atom()?;
                    let optional = match self.peek() {
                        Some(b'?') => {
                            self.i += 1;
                            true
                        }
                        Some(b'*' | b'+' | b'{') => return None,
                        _ => false,
                    };
                    if set[0x80..].iter().any(|b| *b) {
                        return None;
                    }
                    // case-insensitive literals compare in either case: one byte stands for both
                    let bytes: Vec<u8> = (0..=255u8).filter(|b| set[*b as usize] && !(self.nocase && b.is_ascii_uppercase())).collect();
                    let mut next: Vec<Vec<u8>> =
                        current.iter().flat_map(|prefix| bytes.iter().map(move |b| [prefix.as_slice(), &[*b]].concat())).collect();
                    if optional {
                        // a greedy `?` tries the byte first, then without it
                        next = current.iter().flat_map(|prefix| {
                            bytes.iter().map(move |b| [prefix.as_slice(), &[*b]].concat()).chain(std::iter::once(prefix.clone()))
                        }).collect();
                    }
                    if next.len() > 64 {
                        return None;
                    }
                    current = next;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_lite::Regex;

    fn regex_find(re: &Regex, text: &str, from: usize) -> Option<Match> {
        let c = re.captures_at(text, from)?;
        let whole = c.get(0)?;
        let g = c.get(1).unwrap_or(whole);
        Some(Match { start: whole.start(), end: whole.end(), group: (g.start(), g.end()) })
    }

    #[test]
    fn most_rules_have_a_shape() {
        let shaped: Vec<&str> = crate::scan::rules::RULES.iter().filter(|r| Shape::parse(r.pattern).is_some()).map(|r| r.id).collect();
        for id in ["aws-access-key-id", "github-pat", "gitlab-pat", "stripe-access-token", "jwt", "sendgrid-api-token", "gcp-api-key"] {
            assert!(shaped.contains(&id), "{id} has no shape; shaped: {shaped:?}");
        }
        assert!(shaped.len() >= 35, "{} of {} rules: {shaped:?}", shaped.len(), crate::scan::rules::RULES.len());
        for p in [r"a$", r"a|b", r"x(?:a|b){2}", r"\pL{3}", r"(a)(b)", r"a{2,}?"] {
            assert!(Shape::parse(p).is_none(), "{p}");
        }
    }

    #[test]
    fn examples() {
        let aws = Shape::parse(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b").unwrap();
        let t = b"key AKIAIOSFODNN7EXAMPLE;";
        assert_eq!(aws.find(t, 0, t.len()), Ok(Some(Match { start: 4, end: 24, group: (4, 24) })));
        assert_eq!(aws.find(b"xAKIAIOSFODNN7EXAMPLE", 0, 20), Ok(None));
        assert_eq!(aws.find(b"AKIAIOSFODNN7EXAMPLEX", 0, 20), Ok(None));
    }

    include!("../../tests/data/guard_cases.rs");
    include!("../../tests/data/detector_cases.rs");

    /// Each rule's positive values: the shared secret cases and the labelled set's core ones.
    fn values_of(rule: Option<&str>) -> Vec<String> {
        static LABELLED: std::sync::OnceLock<Vec<DetectorCase>> = std::sync::OnceLock::new();
        let labelled = LABELLED.get_or_init(detector_cases);
        let mut out: Vec<String> = secret_cases().into_iter().filter(|(id, _)| Some(*id) == rule).map(|(_, v)| v).collect();
        let mut seen = std::collections::HashSet::new();
        for c in labelled.iter().filter(|c| c.tier == "core" && c.context == "text" && c.kinds.iter().any(|k| Some(k.as_str()) == rule)) {
            if seen.insert(c.value.clone()) {
                out.push(c.value.clone());
            }
        }
        out
    }

    /// Windows made of what the rule's pattern is made of, and of its labelled cases whole,
    /// cut and damaged, so that matches and near misses are common.
    fn window_for(pattern: &str, picks: &[u8]) -> String {
        let mut pieces: Vec<String> = Vec::new();
        let rule = crate::scan::rules::RULES.iter().find(|r| r.pattern == pattern).map(|r| r.id);
        for value in values_of(rule) {
            let mid = value.len() / 2;
            pieces.push(value[..value.len() - 1].to_owned());
            pieces.push(format!("{}-{}", &value[..mid], &value[mid + 1..]));
            pieces.push(format!("{value}x"));
            pieces.push(value);
        }
        let mut lits = String::new();
        for c in pattern.chars() {
            if c.is_ascii_alphanumeric() || "-_./=:".contains(c) {
                lits.push(c);
            } else if lits.len() >= 2 {
                pieces.push(std::mem::take(&mut lits));
            } else {
                lits.clear();
            }
        }
        pieces.extend(["aB3", "9", "zz", "Q", " ", "_", "-", ".", "=", "/", "é", "x"].map(String::from));
        pieces.push("0123456789abcdefABCDEF".into());
        let mut out = String::new();
        for p in picks {
            let piece = &pieces[*p as usize % pieces.len()];
            // repeat class-like pieces to reach the lengths the quantifiers ask for
            let times = if piece.len() > 4 { 1 } else { 1 + (*p as usize / pieces.len()) % 24 };
            out.push_str(&piece.repeat(times));
        }
        out
    }

    /// Every shaped rule, on many windows: the same answer as the regex, and the windows do
    /// hold matches for every rule (or the comparison would prove little).
    #[test]
    fn every_shape_agrees_with_its_regex_on_matches_and_misses() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for r in crate::scan::rules::RULES {
            let Some(shape) = Shape::parse(r.pattern) else { continue };
            let re = Regex::new(r.pattern).unwrap();
            let (mut hits, mut misses) = (0, 0);
            for _ in 0..3000 {
                let picks: Vec<u8> = (0..1 + seed as usize % 12)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                let text = window_for(r.pattern, &picks);
                let want = regex_find(&re, &text, 0);
                if let Ok(got) = shape.find(text.as_bytes(), 0, text.len()) {
                    assert_eq!(got, want, "{} on {text:?}", r.id);
                    if got.is_some() { hits += 1 } else { misses += 1 }
                }
            }
            assert!(hits > 0 && misses > 0, "{}: {hits} matches, {misses} misses", r.id);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn a_shape_finds_what_the_regex_finds(rule in 0usize..64, picks in proptest::collection::vec(any::<u8>(), 0..24), from in 0usize..40) {
            let rules = crate::scan::rules::RULES;
            let r = &rules[rule % rules.len()];
            if let Some(shape) = Shape::parse(r.pattern) {
                let re = Regex::new(r.pattern).unwrap();
                let text = window_for(r.pattern, &picks);
                let mut from = from.min(text.len());
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                match shape.find(text.as_bytes(), from, text.len()) {
                    Ok(got) => prop_assert_eq!(got, regex_find(&re, &text, from), "{} on {:?} from {}", r.id, text, from),
                    Err(OutOfBudget) => {}
                }
            }
        }
    }
}
