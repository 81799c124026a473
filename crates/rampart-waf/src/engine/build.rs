//! The last step of loading: removals and target updates applied, rules
//! placed in their phases with markers, `skipAfter` targets resolved.

use std::collections::HashMap;

use super::compile::{Pending, RuleSetBuilder, err};
use super::rule::{Actions, Disruptive, Rule};
use super::vars::TargetSpec;
use super::{Entry, LoadError, RuleSet};

impl RuleSetBuilder {
    /// `SecRuleUpdateActionById`: single-valued actions are replaced;
    /// `t:` (reset by `t:none`), `tag`, `setvar` and `ctl` are appended.
    fn update_rule_actions(&mut self, rule: &mut Rule, a: &Actions) {
        match &a.disruptive {
            Some(Disruptive::Block) => {
                rule.disruptive = rule.block_as.0.clone();
                rule.status = a.status.or(rule.block_as.1);
            }
            Some(d) => {
                rule.disruptive = d.clone();
                rule.status = a.status;
            }
            None => {
                if a.status.is_some() {
                    rule.status = a.status;
                }
            }
        }
        if let Some(m) = &a.msg {
            rule.info.msg = m.raw().to_owned();
            rule.msg = Some(m.clone());
        }
        if let Some(m) = &a.logdata {
            rule.info.logdata = m.raw().to_owned();
            rule.logdata = Some(m.clone());
        }
        if a.severity.is_some() {
            rule.info.severity = a.severity;
        }
        if !a.ver.is_empty() {
            rule.info.ver.clone_from(&a.ver);
        }
        if !a.rev.is_empty() {
            rule.info.rev.clone_from(&a.rev);
        }
        if let Some(log) = a.log {
            rule.log = log;
        }
        if a.skip_after.is_some() {
            rule.skip_after.clone_from(&a.skip_after);
        }
        if a.skip > 0 {
            rule.skip = a.skip;
        }
        rule.capture |= a.capture;
        rule.multi_match |= a.multi_match;
        rule.tags.extend(a.tags.iter().cloned());
        rule.setvars.extend(a.setvars.iter().cloned());
        rule.ctls.extend(a.ctls.iter().cloned());
        if a.t_none || !a.transforms.is_empty() {
            let mut chain = if a.t_none {
                Vec::new()
            } else {
                self.tchains
                    .get(rule.transforms)
                    .cloned()
                    .unwrap_or_default()
            };
            chain.extend(a.transforms.iter().copied());
            rule.transforms = self.intern(chain);
        }
    }

    /// `build()` fails if any `add_*` call failed.
    pub fn build(mut self) -> Result<RuleSet, LoadError> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        if let Some((file, line)) = self.open_chain_at {
            return Err(err(&file, line, "chain without a following rule"));
        }
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut rules = Vec::new();
        let mut phases: [Vec<Entry>; 5] = Default::default();
        let items = std::mem::take(&mut self.items);
        let update_actions = std::mem::take(&mut self.update_actions);
        for item in items {
            match item {
                Pending::Marker(name) => {
                    for phase in &mut phases {
                        phase.push(Entry::Marker(name.clone()));
                    }
                }
                Pending::Rule(mut rule) => {
                    let removed = self
                        .remove_ids
                        .iter()
                        .any(|&(lo, hi)| (lo..=hi).contains(&rule.id))
                        || self.remove_tags.iter().any(|t| rule.has_tag(t));
                    if removed {
                        continue;
                    }
                    if let Some(&line) = seen.get(&rule.id) {
                        return Err(LoadError {
                            file: rule.file.clone(),
                            line: rule.line,
                            message: format!(
                                "duplicate rule id {} (first defined on line {line})",
                                rule.id
                            ),
                        });
                    }
                    seen.insert(rule.id, rule.line);
                    let updates = self
                        .update_by_id
                        .iter()
                        .filter(|((lo, hi), _)| (*lo..=*hi).contains(&rule.id))
                        .map(|(_, s)| s)
                        .chain(
                            self.update_by_tag
                                .iter()
                                .filter(|(t, _)| rule.has_tag(t))
                                .map(|(_, s)| s),
                        )
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>();
                    for spec in updates {
                        match spec {
                            TargetSpec::Add(t) => rule.targets.push(t),
                            TargetSpec::Exclude(e) => rule.exclusions.push(e),
                        }
                    }
                    let id = rule.id;
                    for (_, a) in update_actions.iter().filter(|(uid, _)| *uid == id) {
                        self.update_rule_actions(&mut rule, a);
                    }
                    let idx = rules.len();
                    let phase = usize::from(rule.phase) - 1;
                    rules.push(*rule);
                    if let Some(list) = phases.get_mut(phase) {
                        list.push(Entry::Rule { idx, skip_to: None });
                    }
                }
            }
        }
        let target_sets = assign_target_sets(&mut rules);
        // skipAfter targets: the marker (or rule id) after the rule in the
        // same phase; absent means the rest of the phase is skipped.
        for list in &mut phases {
            let len = list.len();
            for i in 0..len {
                let Some(Entry::Rule { idx, .. }) = list.get(i) else {
                    continue;
                };
                let Some(label) = rules.get(*idx).and_then(|r| r.skip_after.clone()) else {
                    continue;
                };
                let target = (i + 1..len)
                    .find(|&j| match list.get(j) {
                        Some(Entry::Marker(m)) => *m == label,
                        Some(Entry::Rule { idx, .. }) => {
                            rules.get(*idx).is_some_and(|r| r.id.to_string() == label)
                        }
                        None => false,
                    })
                    .map_or(len, |j| j + 1);
                if let Some(Entry::Rule { skip_to, .. }) = list.get_mut(i) {
                    *skip_to = Some(target);
                }
            }
        }
        Ok(RuleSet {
            phases,
            rules,
            tchains: self.tchains,
            target_sets,
            config: self.config,
        })
    }
}

/// Gives links whose targets read request data only a shared cache slot
/// per distinct target list (exclusions included); returns the count.
fn assign_target_sets(rules: &mut [Rule]) -> usize {
    let mut ids: HashMap<String, usize> = HashMap::new();
    for rule in rules {
        let mut link = Some(rule);
        while let Some(l) = link {
            if !l.targets.is_empty()
                && l.targets.iter().all(|t| t.var.is_request_data())
                && l.exclusions.iter().all(|e| e.var.is_request_data())
            {
                let key = format!("{:?}|{:?}", l.targets, l.exclusions);
                let next = ids.len();
                l.target_set = Some(*ids.entry(key).or_insert(next));
            }
            link = l.chain.as_deref_mut();
        }
    }
    ids.len()
}
