//! The AWS-compatible API: one HTTP port ([`server`]) that routes each request to its protocol
//! ([`route`]), verifies its SigV4 signature ([`sigv4`]), and turns the requests AWS's SDKs, the
//! AWS CLI and Terraform send into the typed requests of the library services
//! (`vpcflow-deliver`'s CreateFlowLogs and DescribeFlowLogs, `vpcflow-store`'s log groups,
//! `vpcflow-query`'s Insights jobs), and their answers and errors into AWS's wire shapes. No rule
//! of AWS's semantics lives here: validation and behaviour are the services'.
//!
//! Served: EC2's flow-log actions, tags and the topology's Describe* ([`ec2`], query protocol
//! over [`form`]), EC2's network actions (VPCs, subnets, security groups, network ACLs,
//! gateways, route tables, Elastic IPs, network interfaces, instances: [`ec2_network`]), IAM's
//! roles and inline policies ([`iam`]), CloudWatch Logs' log groups, streams, events, Insights, metric and
//! subscription filters ([`logs`], awsJson 1.1 over [`json`]), CloudWatch's alarms and metric
//! data in JSON 1.0 and the query protocol ([`cloudwatch`], [`query_form`]), S3's buckets and
//! objects with their policy, lifecycle and notification configurations ([`s3`], [`s3_docs`]),
//! Firehose's delivery streams ([`firehose`]), STS's GetCallerIdentity ([`sts`]), `/healthz`
//! and `/metrics` ([`metrics`]); each account sees only its own. The console ([`console`]), a
//! web UI under `/ui`, reads through the same handlers and the library services.

#[cfg(feature = "service")]
pub mod cloudwatch;
#[cfg(feature = "service")]
pub mod console;
pub mod ec2;
pub mod ec2_network;
#[cfg(feature = "service")]
pub mod firehose;
pub mod form;
#[cfg(feature = "service")]
pub mod iam;
pub mod json;
#[cfg(feature = "service")]
pub mod logs;
pub mod metrics;
pub mod query_form;
pub mod reply;
pub mod route;
pub mod s3;
pub mod s3_docs;
#[cfg(feature = "service")]
pub mod server;
pub mod sigv4;
pub mod sts;
pub mod xml;
