//! Running a phase: rule order, chains, transformations (cached per
//! transaction), operators, actions, `ctl`, and the body processors.

use std::borrow::Cow;

use super::collect::{Collector, ExcludeFn};
use super::data::{AllowScope, BodyProcessor, ReqData, RuleRef, State};
use super::macros::{MacroCtx, OperatorMacros};
use super::matching::{Tester, recycle};
use super::rule::{AllowKind, Ctl, Disruptive, Rule, SetColl, SetOp};
use super::vars::{Exclusion, Var, VarValue};
use super::{
    EngineMode, Entry, InterruptAction, Interruption, MatchedRule, RuleSet, Transaction,
    TransformCache,
};
use crate::body;

use crate::transform::Transformation;

/// What a fully matched rule asks the phase loop to do.
enum Flow {
    Continue,
    StopPhase,
}

/// The transaction split into what rules read and what they change, so
/// values borrowed from the request can live while the state mutates.
struct Run<'t> {
    rs: &'t RuleSet,
    req: &'t ReqData,
    state: &'t mut State,
    cache: &'t mut TransformCache,
    /// The allocation reused for every rule's values.
    scratch: Vec<VarValue<'static>>,
    hits: Vec<Hit>,
    /// Values of request-only target lists, collected once per phase.
    value_sets: Vec<Option<Vec<VarValue<'t>>>>,
}

impl Transaction<'_> {
    pub(crate) fn run_phase(&mut self, phase: u8) {
        // Logging rules run even after an interruption (CRS 980170 reports
        // blocked requests there).
        if (self.interruption.is_some() && phase < 5) || self.state.engine == EngineMode::Off {
            return;
        }
        match self.state.allow {
            Some(AllowScope::All) if phase < 5 => return,
            Some(AllowScope::Request) if phase <= 2 => return,
            Some(AllowScope::Phase(p)) if p == phase => return,
            _ => {}
        }
        let rs = self.rules;
        let Some(list) = rs.phases.get(usize::from(phase).wrapping_sub(1)) else {
            return;
        };
        let mut run = Run {
            rs,
            req: &self.req,
            state: &mut self.state,
            cache: &mut self.cache,
            scratch: Vec::with_capacity(32),
            hits: Vec::new(),
            value_sets: std::iter::repeat_with(|| None)
                .take(rs.target_sets)
                .collect(),
        };
        let mut i = 0;
        let mut skip = 0u32;
        while let Some(entry) = list.get(i) {
            i += 1;
            let Entry::Rule { idx, skip_to } = entry else {
                continue;
            };
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let Some(rule) = rs.rules.get(*idx) else {
                continue;
            };
            if run.is_removed(rule) || !run.eval_rule(rule) {
                continue;
            }
            self.matched.push(run.record(rule));
            match run.disrupt(rule, phase, &mut self.interruption) {
                Flow::StopPhase => return,
                Flow::Continue => {}
            }
            // `ctl:ruleEngine=Off` ends the evaluation at once.
            if run.state.engine == EngineMode::Off {
                return;
            }
            if let Some(to) = skip_to {
                i = *to;
            } else if rule.skip > 0 {
                skip = rule.skip;
            }
        }
    }

    pub(crate) fn load_body(&mut self, raw: &[u8]) {
        let config = &self.rules.config;
        let req = &mut self.req;
        req.reqbody_error = Some(false);
        if !self.state.body_access {
            return;
        }
        let end = raw.len().min(config.body_limit);
        let body = raw.get(..end).unwrap_or(raw);
        // REQUEST_BODY holds the raw body for the URLENCODED and JSON
        // processors (or when forced, for unprocessed types); XML and
        // multipart bodies are inspected through what their processors
        // extract (CRS's regression suite expects exactly this split).
        let expose = match self.state.body_processor {
            Some(BodyProcessor::UrlEncoded | BodyProcessor::Json) => true,
            None => self.state.force_body_variable,
            Some(BodyProcessor::Xml | BodyProcessor::Multipart) => false,
        };
        if expose {
            req.body = Some(body.to_vec());
        }
        req.body_length = body.len();
        req.full_request_length += body.len();
        let fail = |req: &mut ReqData, msg: String| {
            req.reqbody_error = Some(true);
            req.reqbody_error_msg = Some(msg.into_bytes());
        };
        match self.state.body_processor {
            Some(BodyProcessor::UrlEncoded) => req.args_post = body::parse_urlencoded(body),
            Some(BodyProcessor::Multipart) => {
                let ct = req.header("content-type").unwrap_or_default().to_vec();
                let m = body::parse_multipart(&ct, body, body::MultipartLimits::default());
                req.args_post = m.args;
                req.files = m.files;
                req.part_headers = m.part_headers;
                req.part_names = m.part_names;
                req.file_names = m.file_names;
                req.multipart_flags = Some(m.flags);
                if let Some(e) = m.error {
                    fail(req, format!("Multipart parsing error: {e}"));
                }
            }
            Some(BodyProcessor::Json) => match body::parse_json(body, config.json_depth) {
                Ok(args) => req.args_post = args,
                Err(e) if !body.is_empty() => fail(req, format!("JSON parsing error: {e}")),
                Err(_) => {}
            },
            Some(BodyProcessor::Xml) => match body::parse_xml(body) {
                Ok(doc) => req.xml = Some(doc),
                Err(e) => fail(req, format!("XML parsing error: {e}")),
            },
            None => {}
        }
        let limit = config.args_limit;
        let room = limit.saturating_sub(req.args_get.len());
        req.args_post.truncate(room);
    }
}

impl<'t> Run<'t> {
    fn is_removed(&self, rule: &Rule) -> bool {
        self.state
            .removed_ids
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&rule.id))
            || self.state.removed_tags.iter().any(|t| rule.has_tag(t))
    }

    /// True when every link of the chain matched.
    fn eval_rule(&mut self, rule: &Rule) -> bool {
        self.state.clear_matched_vars();
        let mut link = rule;
        loop {
            if !self.eval_link(rule, link) {
                return false;
            }
            match &link.chain {
                Some(next) => link = next,
                None => return true,
            }
        }
    }

    fn eval_link(&mut self, starter: &Rule, link: &Rule) -> bool {
        let Some(op) = &link.operator else {
            self.run_actions(starter, link);
            return true;
        };
        let req: &'t ReqData = self.req;
        let chain: &[Transformation] = self
            .rs
            .tchains
            .get(link.transforms)
            .map_or(&[], Vec::as_slice);
        // Values are read and tested first, actions applied after: the
        // values may borrow TX without copying (ModSecurity also resolves
        // a rule's variables before evaluating it).
        let n_hits = {
            let state: &State = self.state;
            // Runtime `ctl:ruleRemoveTarget…` exclusions that concern this
            // rule, resolved once rather than per value.
            let runtime: Vec<&Exclusion> = if std::ptr::eq(starter, link) {
                state
                    .removed_targets
                    .iter()
                    .filter(|(r, _)| match r {
                        RuleRef::Ids(lo, hi) => (*lo..=*hi).contains(&starter.id),
                        RuleRef::Tag(t) => starter.has_tag(t),
                    })
                    .map(|(_, e)| e)
                    .collect()
            } else {
                Vec::new()
            };
            let excluded = |var: Var, key: &[u8]| {
                link.exclusions.iter().any(|e| e.excludes(var, key))
                    || runtime.iter().any(|e| e.excludes(var, key))
            };
            let any_exclusion = !link.exclusions.is_empty() || !runtime.is_empty();
            let excluded = any_exclusion.then_some(&excluded as &ExcludeFn<'_>);
            let macros = OperatorMacros {
                ctx: MacroCtx {
                    req,
                    state,
                    rule: Some(&starter.info),
                },
                compiled: &link.op_macros,
            };
            let test = Tester {
                op,
                link,
                chain,
                macros: &macros,
            };
            let cached = link.target_set.filter(|_| runtime.is_empty());
            match cached {
                Some(set) => {
                    // Request-only targets: collected once per phase.
                    if self.value_sets.len() <= set {
                        self.value_sets.resize_with(set + 1, || None);
                    }
                    let slot = self.value_sets.get_mut(set);
                    let scratch = &mut self.scratch;
                    let values: &[VarValue<'t>] = match slot {
                        Some(slot) => slot.get_or_insert_with(|| {
                            let collector = Collector {
                                req,
                                state: None,
                                excluded,
                            };
                            // Collected in the reused buffer, then kept in
                            // one allocation of the exact size.
                            let mut values = recycle(std::mem::take(scratch));
                            for t in &link.targets {
                                collector.collect(t, &mut values);
                            }
                            let kept = values
                                .iter()
                                .map(|v| VarValue {
                                    var: v.var,
                                    key: v.key.clone(),
                                    value: v.value.clone(),
                                    source: v.source,
                                })
                                .collect();
                            *scratch = recycle(values);
                            kept
                        }),
                        None => &[],
                    };
                    test.run(values, self.cache, &mut self.hits)
                }
                None => {
                    let mut values = recycle(std::mem::take(&mut self.scratch));
                    let collector = Collector {
                        req,
                        state: Some(state),
                        excluded,
                    };
                    for t in &link.targets {
                        collector.collect(t, &mut values);
                    }
                    let n = test.run(&values, self.cache, &mut self.hits);
                    self.scratch = recycle(values);
                    n
                }
            }
        };
        let mut hits = std::mem::take(&mut self.hits);
        for hit in hits.iter_mut().take(n_hits) {
            if link.capture {
                let groups = std::mem::take(&mut hit.groups);
                for (key, g) in CAPTURE_KEYS.iter().zip(groups) {
                    match self.state.tx.get_mut(*key) {
                        Some(slot) => *slot = g,
                        None => {
                            self.state.tx.insert((*key).to_owned(), g);
                        }
                    }
                }
            }
            self.state.matched_var.clone_from(&hit.value);
            self.state.matched_var_name.clone_from(&hit.name);
            self.state.push_matched_var(&hit.name, &hit.value);
            self.run_actions(starter, link);
        }
        self.hits = hits;
        n_hits > 0
    }

    fn run_actions(&mut self, starter: &Rule, link: &Rule) {
        for sv in &link.setvars {
            let (name, new) = {
                let ctx = MacroCtx {
                    req: self.req,
                    state: self.state,
                    rule: Some(&starter.info),
                };
                let name: Cow<'_, str> = match &sv.static_name {
                    Some(n) => Cow::Borrowed(n.as_str()),
                    None => Cow::Owned(sv.name.expand(&ctx).to_ascii_lowercase()),
                };
                let map = match sv.coll {
                    SetColl::Tx => Some(&self.state.tx),
                    SetColl::Store(k) => self.state.stores.get(&k),
                };
                let current = || {
                    map.and_then(|m| m.get(name.as_ref()))
                        .map_or(0, |v| parse_int(&String::from_utf8_lossy(v)))
                };
                let new = match &sv.op {
                    SetOp::Set(m) => NewValue::Text(m.expand(&ctx)),
                    SetOp::Add(m) => {
                        NewValue::Int(current().saturating_add(parse_int(&m.expand(&ctx))))
                    }
                    SetOp::Sub(m) => {
                        NewValue::Int(current().saturating_sub(parse_int(&m.expand(&ctx))))
                    }
                    SetOp::Delete => NewValue::Delete,
                };
                (name, new)
            };
            let map = match sv.coll {
                SetColl::Tx => &mut self.state.tx,
                SetColl::Store(k) => self.state.stores.entry(k).or_default(),
            };
            if let NewValue::Delete = new {
                map.remove(name.as_ref());
                continue;
            }
            // Updating in place keeps the slot's allocation.
            let slot = match map.get_mut(name.as_ref()) {
                Some(slot) => slot,
                None => map.entry(name.into_owned()).or_default(),
            };
            slot.clear();
            match new {
                NewValue::Text(t) => slot.extend_from_slice(t.as_bytes()),
                NewValue::Int(n) => push_int(slot, n),
                NewValue::Delete => {}
            }
        }
        for ctl in &link.ctls {
            let s = &mut *self.state;
            match ctl {
                Ctl::RuleEngine(m) => s.engine = *m,
                Ctl::RemoveById(ids) => s.removed_ids.extend(ids.iter().copied()),
                Ctl::RemoveByTag(t) => s.removed_tags.push(t.clone()),
                Ctl::RemoveTargetById(ids, e) => {
                    for &(lo, hi) in ids {
                        s.removed_targets.push((RuleRef::Ids(lo, hi), e.clone()));
                    }
                }
                Ctl::RemoveTargetByTag(t, e) => {
                    s.removed_targets.push((RuleRef::Tag(t.clone()), e.clone()));
                }
                Ctl::BodyProcessor(p) => s.body_processor = Some(*p),
                Ctl::BodyAccess(b) => s.body_access = *b,
                Ctl::ForceBodyVariable(b) => s.force_body_variable = *b,
                Ctl::Ignored => {}
            }
        }
    }

    fn record(&mut self, rule: &Rule) -> MatchedRule {
        if let Some(sev) = rule.info.severity {
            let h = &mut self.state.highest_severity;
            *h = Some(h.map_or(sev, |cur| cur.min(sev)));
        }
        if !rule.log && matches!(rule.disruptive, Disruptive::Pass) {
            // Most matches are CRS's bookkeeping rules (`nolog,pass`):
            // nobody reads their message, data or tags, so they are not
            // built.
            return MatchedRule {
                id: rule.id,
                phase: rule.phase,
                message: String::new(),
                data: String::new(),
                severity: rule.info.severity,
                tags: Vec::new(),
                logged: false,
            };
        }
        let ctx = MacroCtx {
            req: self.req,
            state: self.state,
            rule: Some(&rule.info),
        };
        let message = rule
            .msg
            .as_ref()
            .map(|m| m.expand(&ctx).into_owned())
            .unwrap_or_default();
        let data = rule
            .logdata
            .as_ref()
            .map(|m| m.expand(&ctx).into_owned())
            .unwrap_or_default();
        MatchedRule {
            id: rule.id,
            phase: rule.phase,
            message,
            data,
            severity: rule.info.severity,
            tags: rule.tags.clone(),
            logged: rule.log,
        }
    }

    fn disrupt(&mut self, rule: &Rule, phase: u8, slot: &mut Option<Interruption>) -> Flow {
        if self.state.engine != EngineMode::On {
            return Flow::Continue;
        }
        let (action, status, location) = match &rule.disruptive {
            Disruptive::Pass | Disruptive::Block => return Flow::Continue,
            Disruptive::Allow(kind) => {
                self.state.allow = Some(match kind {
                    AllowKind::All => AllowScope::All,
                    AllowKind::Request => AllowScope::Request,
                    AllowKind::Phase => AllowScope::Phase(phase),
                });
                return Flow::StopPhase;
            }
            Disruptive::Deny => (InterruptAction::Deny, rule.status.unwrap_or(403), None),
            Disruptive::Drop => (InterruptAction::Drop, rule.status.unwrap_or(403), None),
            Disruptive::Redirect(m) => {
                let ctx = MacroCtx {
                    req: self.req,
                    state: self.state,
                    rule: Some(&rule.info),
                };
                let status = rule
                    .status
                    .filter(|s| matches!(s, 301 | 302 | 303 | 307 | 308))
                    .unwrap_or(302);
                (
                    InterruptAction::Redirect,
                    status,
                    Some(m.expand(&ctx).into_owned()),
                )
            }
        };
        if phase == 5 {
            // Too late to stop anything: the response has gone.
            return Flow::Continue;
        }
        *slot = Some(Interruption {
            rule_id: rule.id,
            status,
            action,
            location,
        });
        Flow::StopPhase
    }
}

const CAPTURE_KEYS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

enum NewValue<'m> {
    /// Borrowed from the rule when the text has no macros.
    Text(Cow<'m, str>),
    Int(i64),
    Delete,
}

/// A value that matched, kept until the rule's actions run.
#[derive(Default)]
pub(crate) struct Hit {
    pub name: String,
    pub value: Vec<u8>,
    pub groups: Vec<Vec<u8>>,
}

/// Appends the decimal text of `n` without the formatting machinery.
fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            // `rest % 10` is below 10.
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// ModSecurity's lenient number parse: optional sign, leading digits,
/// anything else 0.
fn parse_int(text: &str) -> i64 {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let mut n: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(10) else { break };
        n = n.saturating_mul(10).saturating_add(i64::from(d));
    }
    if neg { -n } else { n }
}

#[cfg(test)]
mod push_int_tests {
    use super::push_int;

    #[test]
    fn writes_what_format_writes() {
        for n in [0, 1, 9, 10, -1, -10, 12_345, i64::MAX, i64::MIN] {
            let mut out = b"x".to_vec();
            push_int(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }
}
