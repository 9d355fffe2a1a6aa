//! Contributor Insights over the log groups: a rule's report (GetInsightRuleReport's
//! semantics, `vpcflow_monitor::contributors`) from the events its log groups hold in a time
//! range, each group the caller's. The CLI (`vpcflow query --contributors`) and the API call
//! this one service.

use vpcflow_monitor::contributors::{Contributions, OrderBy, Report, Rule};

use super::{LogStore, LogsError, index};

impl LogStore {
    /// The report of `rule` over the events in `[start_ms, end_ms]` of every visible log group
    /// it names, by periods of `period_s`, with the top `max` contributors.
    pub fn contributor_report(
        &self,
        rule: &Rule,
        (start_ms, end_ms): (i64, i64),
        period_s: u64,
        max: usize,
        order: OrderBy,
    ) -> Result<Report, LogsError> {
        let mut c = Contributions::new(rule, period_s);
        for g in self.db(index::groups(&self.conn))? {
            if !rule.reads(&g.name) || !self.visible(&g.name)? {
                continue;
            }
            for e in self.events(&g.name, None, start_ms, end_ms)? {
                c.event(e.timestamp, &e.message);
            }
        }
        Ok(c.report(max, order))
    }
}
