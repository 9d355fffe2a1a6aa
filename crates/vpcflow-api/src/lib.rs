//! The AWS-compatible API's protocols: each one turns the requests AWS's SDKs, the AWS CLI and
//! Terraform send into the typed requests of the library services (`vpcflow-deliver`'s
//! CreateFlowLogs and DescribeFlowLogs, …), and their answers and errors into AWS's wire shapes.
//! No rule of AWS's semantics lives here: validation and behaviour are the services'.
//!
//! Built so far: the query protocol's form bodies ([`form`]) and EC2's flow-log actions in it
//! ([`ec2`]). Planned (ARCHITECTURE.md): the HTTP server on `vpcflow up`'s port, SigV4, and the
//! CloudWatch Logs, CloudWatch, S3 and Firehose protocols.

pub mod ec2;
pub mod form;
