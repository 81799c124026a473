//! The last step of loading: removals and target updates applied, rules
//! placed in their phases with markers, `skipAfter` targets resolved.

use std::collections::HashMap;

use super::compile::{Pending, RuleSetBuilder, err};
use super::vars::TargetSpec;
use super::{Entry, LoadError, RuleSet};

impl RuleSetBuilder {
    /// `build()` fails if any `add_*` call failed.
    pub fn build(self) -> Result<RuleSet, LoadError> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        if let Some((file, line)) = self.open_chain_at {
            return Err(err(&file, line, "chain without a following rule"));
        }
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut rules = Vec::new();
        let mut phases: [Vec<Entry>; 5] = Default::default();
        for item in self.items {
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
                    let idx = rules.len();
                    let phase = usize::from(rule.phase) - 1;
                    rules.push(*rule);
                    if let Some(list) = phases.get_mut(phase) {
                        list.push(Entry::Rule { idx, skip_to: None });
                    }
                }
            }
        }
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
            config: self.config,
        })
    }
}
