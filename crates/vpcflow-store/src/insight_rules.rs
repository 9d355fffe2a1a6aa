//! Contributor Insights rules as CloudWatch serves them: PutInsightRule, DescribeInsightRules,
//! DeleteInsightRules and GetInsightRuleReport, each rule an account's, kept in `state.db`
//! (`insight_rules`). A rule is checked by `vpcflow_monitor::contributors` when it is put; a
//! report reads the log groups the rule names through [`LogStore::contributor_report`], as the
//! caller's.

use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};
use vpcflow_monitor::contributors::{OrderBy, Rule};

use crate::alarms::{AlarmError, AlarmErrorCode, Alarms, refused, validation};
use crate::logs::LogStore;

/// PutInsightRule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInsightRule {
    /// 1–128 characters.
    pub rule_name: String,
    /// ENABLED (default) or DISABLED.
    pub rule_state: Option<String>,
    /// The rule, in AWS's JSON syntax.
    pub rule_definition: String,
    /// Tags (kept with nothing else to do).
    pub tags: Option<Vec<crate::alarms::Tag>>,
}

/// DescribeInsightRules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInsightRules {
    /// Where the previous page ended.
    pub next_token: Option<String>,
    /// 1–500.
    pub max_results: Option<i64>,
}

/// One rule as DescribeInsightRules shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightRule {
    /// Its name.
    pub name: String,
    /// ENABLED or DISABLED.
    pub state: String,
    /// `CloudWatchLogRule/1`.
    pub schema: String,
    /// As it was put.
    pub definition: String,
    /// Always false (no AWS-managed rules here).
    pub managed_rule: bool,
}

/// A page of rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightRulesPage {
    /// By name.
    pub insight_rules: Vec<InsightRule>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteInsightRules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInsightRules {
    /// The rules.
    pub rule_names: Vec<String>,
}

/// A rule DeleteInsightRules could not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartialFailure {
    /// The rule.
    pub failure_resource: String,
    /// Why.
    pub exception_type: String,
    /// In words.
    pub failure_description: String,
}

/// DeleteInsightRules' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInsightRulesAnswer {
    /// The names that were not rules of the caller.
    pub failures: Vec<PartialFailure>,
}

/// GetInsightRuleReport.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInsightRuleReport {
    /// The rule.
    pub rule_name: String,
    /// From (epoch s).
    pub start_time: f64,
    /// To (epoch s).
    pub end_time: f64,
    /// Seconds per datapoint.
    pub period: i64,
    /// 1–100, default 10.
    pub max_contributor_count: Option<i64>,
    /// The MetricDatapoints statistics asked for.
    pub metrics: Option<Vec<String>>,
    /// Sum (default) or Maximum.
    pub order_by: Option<String>,
}

/// A contributor's datapoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorDatapoint {
    /// The period's start (epoch s).
    pub timestamp: f64,
    /// Its value then.
    pub approximate_value: f64,
}

/// A contributor of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightContributor {
    /// Its keys' values.
    pub keys: Vec<String>,
    /// Its value over the range.
    pub approximate_aggregate_value: f64,
    /// Per period.
    pub datapoints: Vec<ContributorDatapoint>,
}

/// A period of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightMetricDatapoint {
    /// The period's start (epoch s).
    pub timestamp: f64,
    /// Contributors in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_contributors: Option<f64>,
    /// The largest contributor's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_contributor_value: Option<f64>,
    /// Contributing events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    /// Their mean value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// Their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// The least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// The greatest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
}

/// GetInsightRuleReport's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightRuleReport {
    /// The keys' names.
    pub key_labels: Vec<String>,
    /// Sum or SampleCount.
    pub aggregation_statistic: String,
    /// Every contributor's value together.
    pub aggregate_value: f64,
    /// How many contributors (exact here).
    pub approximate_unique_count: i64,
    /// The top ones.
    pub contributors: Vec<InsightContributor>,
    /// Per period.
    pub metric_datapoints: Vec<InsightMetricDatapoint>,
}

const METRICS: &[&str] = &[
    "UniqueContributors",
    "MaxContributorValue",
    "SampleCount",
    "Sum",
    "Minimum",
    "Maximum",
    "Average",
];

fn not_found(name: &str) -> AlarmError {
    refused(
        AlarmErrorCode::ResourceNotFound,
        format!("Rule with name {name} does not exist"),
    )
}

impl Alarms {
    /// PutInsightRule for `account` (a rule of that name is replaced).
    pub fn put_insight_rule(
        &self,
        account: &str,
        req: &PutInsightRule,
        now_ms: u64,
    ) -> Result<(), AlarmError> {
        let n = req.rule_name.chars().count();
        if n == 0 || n > 128 {
            return Err(validation(
                &req.rule_name,
                "ruleName",
                "Member must have length less than or equal to 128 and greater than or equal to 1",
            ));
        }
        let state = req.rule_state.as_deref().unwrap_or("ENABLED");
        crate::alarms::one_of(state, "ruleState", &["ENABLED", "DISABLED"])?;
        Rule::parse(&req.rule_definition)
            .map_err(|e| refused(AlarmErrorCode::InvalidParameterValue, e.to_string()))?;
        self.db(self.conn().execute(
            "INSERT INTO insight_rules (account, name, state, definition, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account, name) DO UPDATE SET \
             state = excluded.state, definition = excluded.definition",
            params![
                account,
                req.rule_name,
                state,
                req.rule_definition,
                now_ms as i64
            ],
        ))?;
        Ok(())
    }

    /// DescribeInsightRules for `account`.
    pub fn describe_insight_rules(
        &self,
        account: &str,
        req: &DescribeInsightRules,
    ) -> Result<InsightRulesPage, AlarmError> {
        let max = match req.max_results {
            None => 500,
            Some(n) if (1..=500).contains(&n) => n as usize,
            Some(n) => {
                return Err(validation(
                    &n.to_string(),
                    "maxResults",
                    "Member must have value less than or equal to 500 and greater than or equal to 1",
                ));
            }
        };
        let mut stmt = self.db(self.conn().prepare(
            "SELECT name, state, definition FROM insight_rules WHERE account = ?1 AND name > ?2 \
             ORDER BY name",
        ))?;
        let after = req.next_token.clone().unwrap_or_default();
        let rules: Vec<InsightRule> = self.db(stmt
            .query_map(params![account, after], |r| {
                Ok(InsightRule {
                    name: r.get(0)?,
                    state: r.get(1)?,
                    schema: "CloudWatchLogRule/1".into(),
                    definition: r.get(2)?,
                    managed_rule: false,
                })
            })
            .and_then(Iterator::collect))?;
        let next_token = (rules.len() > max).then(|| rules[max - 1].name.clone());
        Ok(InsightRulesPage {
            insight_rules: rules.into_iter().take(max).collect(),
            next_token,
        })
    }

    /// DeleteInsightRules for `account`: a name that is not its rule is a failure, not an error.
    pub fn delete_insight_rules(
        &self,
        account: &str,
        req: &DeleteInsightRules,
    ) -> Result<DeleteInsightRulesAnswer, AlarmError> {
        let mut failures = Vec::new();
        for name in &req.rule_names {
            let n = self.db(self.conn().execute(
                "DELETE FROM insight_rules WHERE account = ?1 AND name = ?2",
                params![account, name],
            ))?;
            if n == 0 {
                failures.push(PartialFailure {
                    failure_resource: name.clone(),
                    exception_type: "ResourceNotFoundException".into(),
                    failure_description: format!("Rule with name {name} does not exist"),
                });
            }
        }
        Ok(DeleteInsightRulesAnswer { failures })
    }

    /// GetInsightRuleReport for `account`, over the log groups `logs` holds (as that account's).
    pub fn insight_rule_report(
        &self,
        account: &str,
        logs: &LogStore,
        req: &GetInsightRuleReport,
    ) -> Result<InsightRuleReport, AlarmError> {
        let definition: Option<String> = self.db(self
            .conn()
            .query_row(
                "SELECT definition FROM insight_rules WHERE account = ?1 AND name = ?2",
                params![account, req.rule_name],
                |r| r.get(0),
            )
            .optional())?;
        let rule = definition
            .as_deref()
            .and_then(|d| Rule::parse(d).ok())
            .ok_or_else(|| not_found(&req.rule_name))?;
        crate::metrics::check_period(req.period)?;
        if req.end_time <= req.start_time {
            return Err(refused(
                AlarmErrorCode::InvalidParameterValue,
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        let max = match req.max_contributor_count {
            None => 10,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) => {
                return Err(validation(
                    &n.to_string(),
                    "maxContributorCount",
                    "Member must have value less than or equal to 100 and greater than or equal to 1",
                ));
            }
        };
        let order = match req.order_by.as_deref() {
            None | Some("Sum") => OrderBy::Sum,
            Some("Maximum") => OrderBy::Maximum,
            Some(o) => {
                return Err(validation(
                    o,
                    "orderBy",
                    "Member must satisfy enum value set: [Sum, Maximum]",
                ));
            }
        };
        let wanted = req.metrics.clone().unwrap_or_default();
        for m in &wanted {
            crate::alarms::one_of(m, "metrics", METRICS)?;
        }
        let span = (
            (req.start_time * 1000.0) as i64,
            (req.end_time * 1000.0) as i64 - 1,
        );
        let report = logs
            .contributor_report(&rule, span, req.period as u64, max, order)
            .map_err(|e| refused(AlarmErrorCode::InvalidParameterValue, e.to_string()))?;
        let asked = |m: &str, v: f64| wanted.iter().any(|w| w == m).then_some(v);
        Ok(InsightRuleReport {
            key_labels: report.key_labels,
            aggregation_statistic: report.aggregation_statistic.into(),
            aggregate_value: report.aggregate_value,
            approximate_unique_count: report.unique_count as i64,
            contributors: report
                .contributors
                .into_iter()
                .map(|c| InsightContributor {
                    keys: c.keys,
                    approximate_aggregate_value: c.value,
                    datapoints: c
                        .datapoints
                        .into_iter()
                        .map(|(t, v)| ContributorDatapoint {
                            timestamp: t as f64 / 1000.0,
                            approximate_value: v,
                        })
                        .collect(),
                })
                .collect(),
            metric_datapoints: report
                .periods
                .into_iter()
                .map(|p| InsightMetricDatapoint {
                    timestamp: p.timestamp_ms as f64 / 1000.0,
                    unique_contributors: asked("UniqueContributors", p.unique_contributors as f64),
                    max_contributor_value: asked("MaxContributorValue", p.max_contributor_value),
                    sample_count: asked("SampleCount", p.sample_count),
                    average: asked("Average", p.sum / p.sample_count),
                    sum: asked("Sum", p.sum),
                    minimum: asked("Minimum", p.minimum),
                    maximum: asked("Maximum", p.maximum),
                })
                .collect(),
        })
    }
}
