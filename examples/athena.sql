-- AWS's Athena DDL for flow logs delivered as Parquet with Hive-compatible, per-hour partitions
-- (the layout of the built-in flow log to the bucket flow-logs), unchanged; then the partitions
-- found by MSCK REPAIR TABLE, and AWS's sample queries. Run: vpcflow query --sql-file examples/athena.sql
DROP TABLE IF EXISTS vpc_flow_logs_parquet;
CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs_parquet (
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
PARTITIONED BY (
  `aws-account-id` string,
  `aws-service` string,
  `aws-region` string,
  `year` string,
  `month` string,
  `day` string,
  `hour` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://flow-logs/AWSLogs/'
TBLPROPERTIES ('EXTERNAL'='true', 'skip.header.line.count'='1');
MSCK REPAIR TABLE vpc_flow_logs_parquet;
SHOW PARTITIONS vpc_flow_logs_parquet;
SELECT SUM(packets) AS packetcount, dstaddr FROM vpc_flow_logs_parquet
WHERE dstport = 443 GROUP BY dstaddr ORDER BY packetcount DESC LIMIT 5;
SELECT interface_id, srcaddr, action, to_iso8601(from_unixtime(start)) AS start_time
FROM vpc_flow_logs_parquet WHERE action = 'REJECT' AND dstport = 3389 LIMIT 3;
