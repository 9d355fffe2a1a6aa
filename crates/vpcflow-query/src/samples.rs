//! The sample queries the console offers (its "saved queries"): the seeds' questions, each
//! exactly as `tests/seeds/seeds.slt` asks and checks it (its answer there is the expected one),
//! in Logs Insights (the seven questions and the ten samples AWS publishes for flow logs) and
//! in SQL (the Athena table over the built-in default's Parquet bucket, and queries of it).

use serde::Serialize;

/// The language a sample is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Language {
    /// CloudWatch Logs Insights.
    Insights,
    /// SQL with Athena's DDL.
    Sql,
}

/// One sample query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Its language.
    pub language: Language,
    /// What it asks.
    pub name: &'static str,
    /// The query.
    pub text: &'static str,
}

/// The samples, in the order the console lists them.
pub const SAMPLES: &[Sample] = &[
    Sample {
        language: Language::Insights,
        name: "Top talkers",
        text: r#"stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10"#,
    },
    Sample {
        language: Language::Insights,
        name: "Rejected traffic by hour",
        text: r#"filter action = "REJECT" | stats count(*) as rejects by bin(1h) as hour | sort hour"#,
    },
    Sample {
        language: Language::Insights,
        name: "SSH attempts and their outcome",
        text: r#"filter dstPort = 22 | stats count(*) as attempts, sum(packets) as packets by srcAddr, action"#,
    },
    Sample {
        language: Language::Insights,
        name: "Vertical port scans",
        text: r#"filter action="REJECT" | stats count_distinct(dstPort) as ports, count(*) as flows by srcAddr, dstAddr, bin(5m) | filter ports >= 20 | sort ports desc | limit 50"#,
    },
    Sample {
        language: Language::Insights,
        name: "Horizontal sweeps",
        text: r#"stats count_distinct(dstAddr) as hosts by srcAddr, dstPort, bin(5m) | filter hosts >= 3 | sort hosts desc"#,
    },
    Sample {
        language: Language::Insights,
        name: "SSH / RDP brute force",
        text: r#"filter protocol=6 and dstPort in [22, 3389] | stats count(*) as attempts, sum(packets)/count(*) as pktPerFlow by srcAddr, dstAddr, dstPort, bin(5m) | filter attempts >= 5 and pktPerFlow < 20"#,
    },
    Sample {
        language: Language::Insights,
        name: "Possible exfiltration",
        text: r#"filter isPrivateIP(srcAddr) and not isPrivateIP(dstAddr) and action="ACCEPT" | stats sum(bytes) as bytesOut by srcAddr, dstAddr, bin(1h) | sort bytesOut desc | limit 20"#,
    },
    Sample {
        language: Language::Insights,
        name: "Top 15 packet transfers across hosts",
        text: r#"stats sum(packets) as packetsTransferred by srcAddr, dstAddr | sort packetsTransferred desc | limit 15"#,
    },
    Sample {
        language: Language::Insights,
        name: "Top 15 byte transfers for hosts on a subnet",
        text: r#"filter isIpv4InSubnet(srcAddr, "192.0.2.0/24") | stats sum(bytes) as bytesTransferred by dstAddr | sort bytesTransferred desc | limit 15"#,
    },
    Sample {
        language: Language::Insights,
        name: "IP addresses that use UDP",
        text: r#"filter protocol=17 | stats count(*) by srcAddr"#,
    },
    Sample {
        language: Language::Insights,
        name: "Flow records that were skipped",
        text: r#"filter logStatus="SKIPDATA" | stats count(*) by bin(1h) as t | sort t"#,
    },
    Sample {
        language: Language::Insights,
        name: "Average, minimum and maximum byte transfers",
        text: r#"stats avg(bytes), min(bytes), max(bytes) by srcAddr, dstAddr"#,
    },
    Sample {
        language: Language::Insights,
        name: "Top 10 byte transfers by source and destination",
        text: r#"stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10"#,
    },
    Sample {
        language: Language::Insights,
        name: "Top 20 source IPs with the most rejected requests",
        text: r#"filter action="REJECT" | stats count(*) as numRejections by srcAddr | sort numRejections desc | limit 20"#,
    },
    Sample {
        language: Language::Insights,
        name: "Average bytes by destination",
        text: r#"stats avg(bytes) by dstAddr"#,
    },
    Sample {
        language: Language::Insights,
        name: "Average and maximum bytes by destination",
        text: r#"stats avg(bytes), max(bytes) by dstAddr"#,
    },
    Sample {
        language: Language::Insights,
        name: "Records by network interface",
        text: r#"parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message"#,
    },
    Sample {
        language: Language::Sql,
        name: "Create the Parquet table (Hive partitions)",
        text: r#"CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs_parquet (
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
ROW FORMAT SERDE
  'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT
  'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT
  'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION
  's3://flow-logs/AWSLogs/'
TBLPROPERTIES (
  'EXTERNAL'='true',
  'skip.header.line.count'='1'
  )"#,
    },
    Sample {
        language: Language::Sql,
        name: "Load its partitions",
        text: r#"MSCK REPAIR TABLE vpc_flow_logs_parquet"#,
    },
    Sample {
        language: Language::Sql,
        name: "Flows by weekday and action",
        text: r#"SELECT day_of_week(from_unixtime(start)) AS dow, action, count(*) AS flows FROM vpc_flow_logs_parquet WHERE year = '2026' AND month = '01' GROUP BY 1, 2 ORDER BY 1, 2"#,
    },
    Sample {
        language: Language::Sql,
        name: "Top destinations of HTTPS packets",
        text: r#"SELECT SUM(packets) AS packetcount, dstaddr FROM vpc_flow_logs_parquet WHERE dstport = 443 GROUP BY dstaddr ORDER BY packetcount DESC LIMIT 10"#,
    },
    Sample {
        language: Language::Sql,
        name: "Rejects by hour",
        text: r#"SELECT date_trunc('hour', from_unixtime(start)) AS hour, count(*) AS rejects FROM vpc_flow_logs_parquet WHERE action = 'REJECT' AND "hour" = '14' GROUP BY 1 ORDER BY 1"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each sample is one of the seeds' checked questions, word for word.
    #[test]
    fn every_sample_is_a_seed_question() {
        let seeds = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/seeds/seeds.slt"
        ))
        .unwrap();
        for s in SAMPLES {
            let kind = match s.language {
                Language::Insights => "query insights",
                Language::Sql if s.text.starts_with("SELECT") => "query sql",
                Language::Sql => "statement sql",
            };
            let asked = seeds.split("\n\n").any(|block| {
                block
                    .lines()
                    .skip_while(|l| !l.starts_with(kind))
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .starts_with(s.text)
            });
            assert!(asked, "{} is not a seed question", s.name);
        }
        let insights = SAMPLES
            .iter()
            .filter(|s| s.language == Language::Insights)
            .count();
        assert_eq!(insights, 17);
    }
}
