//! Many rules evaluated in order, as a site's custom rules are.

use crate::error::RuleError;
use crate::list::Lists;
use crate::request::{EvalScratch, RequestFields};
use crate::scheme::Scheme;
use crate::{CompiledRule, compile};

/// Rules with caller-chosen ids, in evaluation order.
#[derive(Debug)]
pub struct RuleSet<Id> {
    rules: Vec<(Id, CompiledRule)>,
}

impl<Id> Default for RuleSet<Id> {
    fn default() -> Self {
        Self { rules: Vec::new() }
    }
}

impl<Id> RuleSet<Id> {
    /// Compiles every rule; on failure returns the error of every rule that
    /// failed, so an editor can show them all at once.
    pub fn compile<S: AsRef<str>>(
        rules: impl IntoIterator<Item = (Id, S)>,
        scheme: &Scheme,
    ) -> Result<Self, Vec<(Id, RuleError)>> {
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (id, src) in rules {
            match compile(src.as_ref(), scheme) {
                Ok(rule) => ok.push((id, rule)),
                Err(e) => failed.push((id, e)),
            }
        }
        if failed.is_empty() {
            Ok(Self { rules: ok })
        } else {
            Err(failed)
        }
    }

    /// Appends an already compiled rule.
    pub fn push(&mut self, id: Id, rule: CompiledRule) {
        self.rules.push((id, rule));
    }

    /// The id of the first rule that matches.
    pub fn first_match(
        &self,
        req: &RequestFields<'_>,
        lists: &Lists,
        scratch: &mut EvalScratch,
    ) -> Option<&Id> {
        scratch.start_request();
        self.rules
            .iter()
            .find(|(_, r)| r.eval_same_request(req, lists, scratch))
            .map(|(id, _)| id)
    }

    /// The ids of every matching rule, in order, evaluated lazily: stop
    /// iterating and the remaining rules are not evaluated.
    pub fn matching<'s>(
        &'s self,
        req: &RequestFields<'_>,
        lists: &Lists,
        scratch: &mut EvalScratch,
    ) -> impl Iterator<Item = &'s Id> {
        // The iterator borrows the scratch, so no other request can be
        // evaluated with it until the iterator is gone: the memo stays valid.
        scratch.start_request();
        self.rules
            .iter()
            .filter(move |(_, r)| r.eval_same_request(req, lists, scratch))
            .map(|(id, _)| id)
    }

    /// The rules in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &CompiledRule)> {
        self.rules.iter().map(|(id, r)| (id, r))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
