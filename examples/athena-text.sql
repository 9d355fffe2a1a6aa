-- AWS's Athena DDL for flow logs delivered as text (.log.gz) in S3's default layout, with
-- partition projection on the date, over the sample objects of examples/AWSLogs:
--   vpcflow query --files examples/AWSLogs --sql-file examples/athena-text.sql
-- (with --files and no data directory the catalog lasts for this one script; a LOCATION may be a
-- local path, relative to where the query runs, as here).
CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs_text (
  `version` int,
  `account_id` string,
  `interface_id` string,
  `srcaddr` string,
  `dstaddr` string,
  `srcport` int,
  `dstport` int,
  `protocol` bigint,
  `packets` bigint,
  `bytes` bigint,
  `start` bigint,
  `end` bigint,
  `action` string,
  `log_status` string
)
PARTITIONED BY (`date` date)
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ' '
LOCATION 'examples/AWSLogs/123456789012/vpcflowlogs/us-east-1/'
TBLPROPERTIES (
  "skip.header.line.count"="1",
  "projection.enabled"="true",
  "projection.date.type"="date",
  "projection.date.range"="2023/11/01,NOW",
  "projection.date.format"="yyyy/MM/dd",
  "storage.location.template"="examples/AWSLogs/123456789012/vpcflowlogs/us-east-1/${date}"
);
SELECT date, action, count(*) AS flows, sum(bytes) AS bytes FROM vpc_flow_logs_text
GROUP BY 1, 2 ORDER BY 1, 2;
