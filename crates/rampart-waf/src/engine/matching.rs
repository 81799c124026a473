//! Testing values: transformation chains (cached per transaction),
//! `multiMatch`, and the operator, with capture groups asked for only
//! once a value matched.

use std::borrow::Cow;
use std::collections::hash_map::Entry as MapEntry;

use super::TransformCache;
use super::exec::Hit;
use super::macros::OperatorMacros;
use super::rule::Rule;
use super::vars::VarValue;
use crate::operators::{Captures, Operator};
use crate::transform::Transformation;

/// Tests a link's operator over values, filling reusable hit buffers.
pub(super) struct Tester<'l, 'm> {
    pub op: &'l Operator,
    pub link: &'l Rule,
    pub chain: &'l [Transformation],
    pub macros: &'l OperatorMacros<'m>,
}

impl Tester<'_, '_> {
    pub(super) fn run(
        &self,
        values: &[VarValue<'_>],
        cache: &mut TransformCache,
        hits: &mut Vec<Hit>,
    ) -> usize {
        let link = self.link;
        let mut n = 0usize;
        for v in values {
            let mut caps = Captures::default();
            let tv = if link.multi_match {
                multi_match(
                    self.op,
                    self.chain,
                    &v.value,
                    self.macros,
                    link.capture.then_some(&mut caps),
                )
                .map(Cow::Owned)
            } else {
                let tv = transformed(cache, self.chain, link.transforms, v);
                // Most values do not match: test cheaply first, and only
                // ask for capture groups once it did.
                let hit = self.op.evaluate(&tv, self.macros, None)
                    && (!link.capture || self.op.evaluate(&tv, self.macros, Some(&mut caps)));
                hit.then_some(tv)
            };
            let Some(tv) = tv else { continue };
            if hits.len() <= n {
                hits.push(Hit::default());
            }
            if let Some(slot) = hits.get_mut(n) {
                v.write_name(&mut slot.name);
                slot.value.clear();
                slot.value.extend_from_slice(&tv);
                slot.groups = caps.groups;
                n += 1;
            }
        }
        n
    }
}

/// Empties a value buffer and hands its allocation to another lifetime.
pub(super) fn recycle<'b>(mut values: Vec<VarValue<'_>>) -> Vec<VarValue<'b>> {
    values.clear();
    values
        .into_iter()
        .map(|_| VarValue::placeholder())
        .collect()
}

/// The value after the chain, cached per (value source, chain).
fn transformed<'v>(
    cache: &'v mut TransformCache,
    chain: &[Transformation],
    chain_id: usize,
    v: &'v VarValue<'_>,
) -> Cow<'v, [u8]> {
    if chain.is_empty() {
        return Cow::Borrowed(&v.value);
    }
    let Some(source) = v.source else {
        return Cow::Owned(apply_chain(chain, &v.value).into_owned());
    };
    match cache.entry((source, chain_id)) {
        MapEntry::Occupied(e) => match e.into_mut() {
            Some(t) => Cow::Borrowed(t.as_slice()),
            None => Cow::Borrowed(&v.value),
        },
        MapEntry::Vacant(e) => {
            let result = match apply_chain(chain, &v.value) {
                Cow::Borrowed(_) => None,
                Cow::Owned(o) => Some(o),
            };
            match e.insert(result) {
                Some(t) => Cow::Borrowed(t.as_slice()),
                None => Cow::Borrowed(&v.value),
            }
        }
    }
}

fn apply_chain<'a>(chain: &[Transformation], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut current: Cow<'a, [u8]> = Cow::Borrowed(input);
    for t in chain {
        current = match current {
            Cow::Borrowed(b) => t.apply(b),
            Cow::Owned(o) => Cow::Owned(t.apply(&o).into_owned()),
        };
    }
    current
}

/// `multiMatch`: the operator sees the value before the chain and after
/// every transformation that changed it.
fn multi_match(
    op: &Operator,
    chain: &[Transformation],
    input: &[u8],
    macros: &OperatorMacros<'_>,
    mut caps: Option<&mut Captures>,
) -> Option<Vec<u8>> {
    if op.evaluate(input, macros, caps.as_deref_mut()) {
        return Some(input.to_vec());
    }
    let mut current = input.to_vec();
    for t in chain {
        let next = match t.apply(&current) {
            Cow::Borrowed(_) => continue,
            Cow::Owned(o) => o,
        };
        current = next;
        if op.evaluate(&current, macros, caps.as_deref_mut()) {
            return Some(current);
        }
    }
    None
}
