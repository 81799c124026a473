//! Transparency figures over a period: what was reported, what was
//! decided, and how fast — counts only, nothing about any person.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::{Store, StoreError};

/// The figures of one period `[from, to)` (unix milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransparencyReport {
    pub from: i64,
    pub to: i64,
    /// Reports received, by category.
    pub reports_by_category: BTreeMap<String, u64>,
    /// Cases opened (several reports may merge into one).
    pub cases_opened: u64,
    /// Decisions taken, by outcome.
    pub decisions_by_outcome: BTreeMap<String, u64>,
    /// Decisions taken, by the case's category.
    pub decisions_by_category: BTreeMap<String, u64>,
    /// Decisions lifted in the period.
    pub decisions_lifted: u64,
    /// Median time from a case's first report to its first decision, for
    /// urgent cases (threats to life, CSAM) and for the others.
    pub median_ms_to_decision_urgent: Option<i64>,
    pub median_ms_to_decision_other: Option<i64>,
    /// Appeals filed in the period.
    pub appeals_filed: u64,
    /// Appeals answered in the period, by outcome (`upheld`, `reversed`).
    pub appeals_by_outcome: BTreeMap<String, u64>,
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values.get(mid).copied()
    } else {
        Some((values.get(mid - 1)? + values.get(mid)?) / 2)
    }
}

impl Store {
    /// `SELECT COUNT(*) AS n … WHERE … >= $1 AND … < $2` over the period.
    async fn count_in(&self, sql: &str, from: i64, to: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query(sql)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// `SELECT <key> AS k, COUNT(*) AS n … GROUP BY <key>` over the period.
    async fn counts_by(
        &self,
        sql: &str,
        from: i64,
        to: i64,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for row in sqlx::query(sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?
        {
            let n: i64 = row.try_get("n")?;
            counts.insert(row.try_get("k")?, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    pub async fn transparency(&self, from: i64, to: i64) -> Result<TransparencyReport, StoreError> {
        let mut report = TransparencyReport {
            from,
            to,
            reports_by_category: self
                .counts_by(
                    "SELECT category AS k, COUNT(*) AS n FROM abuse_reports
                     WHERE created_at >= $1 AND created_at < $2 GROUP BY category",
                    from,
                    to,
                )
                .await?,
            cases_opened: self
                .count_in(
                    "SELECT COUNT(*) AS n FROM safety_cases
                     WHERE created_at >= $1 AND created_at < $2",
                    from,
                    to,
                )
                .await?,
            decisions_lifted: self
                .count_in(
                    "SELECT COUNT(*) AS n FROM safety_decisions
                     WHERE lifted_at >= $1 AND lifted_at < $2",
                    from,
                    to,
                )
                .await?,
            appeals_filed: self
                .count_in(
                    "SELECT COUNT(*) AS n FROM safety_appeals
                     WHERE filed_at >= $1 AND filed_at < $2",
                    from,
                    to,
                )
                .await?,
            appeals_by_outcome: self
                .counts_by(
                    "SELECT status AS k, COUNT(*) AS n FROM safety_appeals
                     WHERE answered_at >= $1 AND answered_at < $2 GROUP BY status",
                    from,
                    to,
                )
                .await?,
            ..TransparencyReport::default()
        };
        for row in sqlx::query(
            "SELECT d.outcome AS outcome, c.category AS category, COUNT(*) AS n
             FROM safety_decisions d JOIN safety_cases c ON c.id = d.case_id
             WHERE d.decided_at >= $1 AND d.decided_at < $2
             GROUP BY d.outcome, c.category",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        {
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            *report
                .decisions_by_outcome
                .entry(row.try_get("outcome")?)
                .or_default() += n;
            *report
                .decisions_by_category
                .entry(row.try_get("category")?)
                .or_default() += n;
        }
        // Time to decision: each case whose first decision falls in the
        // period, from the case's opening.
        let rows = sqlx::query(
            "SELECT c.priority AS priority, c.created_at AS opened, MIN(d.decided_at) AS first
             FROM safety_cases c JOIN safety_decisions d ON d.case_id = c.id
             GROUP BY c.id, c.priority, c.created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let (mut urgent, mut other) = (Vec::new(), Vec::new());
        for row in rows {
            let first: i64 = row.try_get("first")?;
            if first < from || first >= to {
                continue;
            }
            let opened: i64 = row.try_get("opened")?;
            let priority: String = row.try_get("priority")?;
            let took = first.saturating_sub(opened).max(0);
            if priority == "urgent" {
                urgent.push(took);
            } else {
                other.push(took);
            }
        }
        report.median_ms_to_decision_urgent = median(urgent);
        report.median_ms_to_decision_other = median(other);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5]), Some(5));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
    }
}
