//! The Logs Insights parser, as tables: AWS's published flow-log queries and one query per
//! command and per function parse; bad queries are refused with the message and the caret
//! under the token at fault.

use vpcflow_query::insights::ast::{CommandKind, ExprKind, ParsePattern};
use vpcflow_query::insights::registry::{FUNCTIONS, FnKind};
use vpcflow_query::insights::{ParseError, parse};

/// AWS's sample flow-log queries (query.md §1.8), verbatim.
const AWS_SAMPLES: &[&str] = &[
    "stats sum(packets) as packetsTransferred by srcAddr, dstAddr | sort packetsTransferred desc | limit 15",
    "filter isIpv4InSubnet(srcAddr, \"192.0.2.0/24\") | stats sum(bytes) as bytesTransferred by dstAddr | sort bytesTransferred desc | limit 15",
    "filter protocol=17 | stats count(*) by srcAddr",
    "filter logStatus=\"SKIPDATA\" | stats count(*) by bin(1h) as t | sort t",
    "stats avg(bytes), min(bytes), max(bytes) by srcAddr, dstAddr",
    "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10",
    "filter action=\"REJECT\" | stats count(*) as numRejections by srcAddr | sort numRejections desc | limit 20",
    "stats avg(bytes) by dstAddr",
    "stats avg(bytes), max(bytes) by dstAddr",
    "parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message",
    "filter srcAddr LIKE \"192.0.2.\" | stats sum(bytes) by dstAddr",
];

#[test]
fn aws_sample_queries_parse() {
    for q in AWS_SAMPLES {
        let parsed = parse(q).unwrap_or_else(|e| panic!("{}", e.render(q)));
        assert!(!parsed.commands.is_empty(), "{q}");
    }
}

/// One row per command: (query, what the first command is).
const COMMANDS: &[(&str, &str)] = &[
    ("fields @timestamp, srcAddr, bytes * 8 as bits", "fields"),
    ("display srcAddr, dstAddr", "display"),
    ("filter dstPort = 22 and action = 'REJECT'", "filter"),
    (
        "where dstPort in [22, 3389] or not (protocol != 6)",
        "filter",
    ),
    (
        "stats count(*) as n, sum(bytes) by srcAddr, bin(5m) as t",
        "stats",
    ),
    ("sort bytes desc, srcAddr asc", "sort"),
    ("sort by @timestamp desc", "sort"),
    ("limit 10000", "limit"),
    (
        "parse @message \"* * * *\" as version, account, eni, src",
        "parse",
    ),
    (
        "parse @message /(?<eni>eni-[0-9a-f]+) (?P<src>\\S+)/",
        "parse",
    ),
    ("parse \"*-*\" as a, b", "parse"),
    ("dedup srcAddr, dstAddr | limit 5", "dedup"),
    (
        "FIELDS srcAddr | FILTER srcAddr =~ /^10\\./ | STATS COUNT(*) BY srcAddr",
        "fields",
    ),
    (
        "# a comment line\nfilter action = \"REJECT\" # and a trailing one\n| stats count(*)",
        "filter",
    ),
];

fn command_name(k: &CommandKind) -> &'static str {
    match k {
        CommandKind::Fields(_) => "fields",
        CommandKind::Display(_) => "display",
        CommandKind::Filter(_) => "filter",
        CommandKind::Stats { .. } => "stats",
        CommandKind::Sort(_) => "sort",
        CommandKind::Limit(_) => "limit",
        CommandKind::Parse { .. } => "parse",
        CommandKind::Dedup(_) => "dedup",
    }
}

#[test]
fn every_command_parses() {
    for (q, want) in COMMANDS {
        let parsed = parse(q).unwrap_or_else(|e| panic!("{}", e.render(q)));
        assert_eq!(command_name(&parsed.commands[0].kind), *want, "{q}");
    }
}

#[test]
fn parse_patterns_capture_their_names() {
    let q = parse("parse @message /(?<eni>eni-\\w+) (?P<src>\\S+) (?:x)/").unwrap();
    let CommandKind::Parse {
        pattern: ParsePattern::Regex { names, .. },
        ..
    } = &q.commands[0].kind
    else {
        panic!("{q:?}")
    };
    assert_eq!(names, &["eni", "src"]);
    let q = parse("parse @message \"* to *\" as from, to").unwrap();
    let CommandKind::Parse {
        pattern: ParsePattern::Glob { names, pattern },
        ..
    } = &q.commands[0].kind
    else {
        panic!("{q:?}")
    };
    assert_eq!((pattern.as_str(), names.len()), ("* to *", 2));
}

#[test]
fn operators_bind_as_documented() {
    // 2 + 3 * 2 ^ 2 = 2 + (3 * (2 ^ 2)); not binds looser than comparison; and before or.
    let q = parse("fields 2 + 3 * 2 ^ 2 as x | filter not a = 1 or b = 2 and c = 3").unwrap();
    let CommandKind::Fields(ps) = &q.commands[0].kind else {
        panic!()
    };
    assert_eq!(
        format!("{:?}", ps[0].expr.kind).matches("Binary").count(),
        3
    );
    let CommandKind::Filter(e) = &q.commands[1].kind else {
        panic!()
    };
    let ExprKind::Binary(op, l, _) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(format!("{op:?}"), "Or");
    assert!(matches!(l.kind, ExprKind::Unary(..)), "{l:?}");
}

#[test]
fn time_periods_are_milliseconds() {
    for (p, ms) in [
        ("500ms", 500),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1d", 86_400_000),
        ("2w", 1_209_600_000),
        ("15min", 900_000),
        ("2hours", 7_200_000),
    ] {
        let q = parse(&format!("stats count(*) by bin({p})")).unwrap();
        let CommandKind::Stats { by, .. } = &q.commands[0].kind else {
            panic!()
        };
        let ExprKind::Call("bin", args) = &by[0].expr.kind else {
            panic!()
        };
        assert!(
            matches!(args[0].kind, ExprKind::Period { ms: m, .. } if m == ms),
            "{p}"
        );
    }
}

/// Every function of the registry parses where its kind belongs, with its fewest arguments.
#[test]
fn every_function_parses_in_its_place() {
    for f in FUNCTIONS {
        let arg = |i: usize| {
            if f.kind == FnKind::Bin {
                "5m".to_owned()
            } else {
                format!("a{i}")
            }
        };
        let args: Vec<String> = (0..f.min_args).map(arg).collect();
        let call = format!("{}({})", f.name, args.join(", "));
        let q = match f.kind {
            FnKind::Scalar => format!("fields {call} as x"),
            FnKind::Aggregate | FnKind::Pick => format!("stats {call} as x"),
            FnKind::Bin => format!("stats count(*) by {call}"),
        };
        parse(&q).unwrap_or_else(|e| panic!("{}: {}", f.name, e.render(&q)));
        if f.max_args != usize::MAX {
            let too_many: Vec<String> = (0..=f.max_args).map(arg).collect();
            let q = q.replace(&call, &format!("{}({})", f.name, too_many.join(", ")));
            let e = parse(&q).expect_err(f.name);
            assert!(e.message.contains("argument"), "{}: {}", f.name, e.message);
        }
    }
}

/// (query, the rendered error).
const ERRORS: &[(&str, &str)] = &[
    (
        "stats count(*) by sumx(bytes)",
        "line 1, column 19: unknown function 'sumx', did you mean 'sum'?\n  stats count(*) by sumx(bytes)\n                    ^^^^",
    ),
    (
        "filter action = 'REJECT' | stat count(*)",
        "line 1, column 28: unknown command 'stat': expected fields, display, filter, stats, sort, limit, parse or dedup\n  filter action = 'REJECT' | stat count(*)\n                             ^^^^",
    ),
    (
        "filter sum(bytes) > 10",
        "line 1, column 8: sum() aggregates: use it in stats\n  filter sum(bytes) > 10\n         ^^^^^^^^^^",
    ),
    (
        "stats srcAddr by dstAddr",
        "line 1, column 7: stats needs an aggregation here (count, sum, avg, min, max, pct, …)\n  stats srcAddr by dstAddr\n        ^^^^^^^",
    ),
    (
        "fields bin(5m)",
        "line 1, column 8: bin() may only group stats (stats … by bin(…))\n  fields bin(5m)\n         ^^^^^^^",
    ),
    (
        "stats count(*) | stats count(*) | stats count(*)",
        "line 1, column 35: a query may have at most two stats commands\n  stats count(*) | stats count(*) | stats count(*)\n                                    ^^^^^^^^^^^^^^",
    ),
    (
        "dedup srcAddr | sort bytes",
        "line 1, column 17: only limit may follow dedup\n  dedup srcAddr | sort bytes\n                  ^^^^^^^^^^",
    ),
    (
        "limit 10001",
        "line 1, column 7: limit must be a whole number from 1 to 10000\n  limit 10001\n        ^^^^^",
    ),
    (
        "filter srcAddr = \"10.0.0.1",
        "line 1, column 18: this string has no closing \"\n  filter srcAddr = \"10.0.0.1\n                   ^^^^^^^^^",
    ),
    (
        "filter srcAddr =~ /10\\.0",
        "line 1, column 19: this regular expression has no closing /\n  filter srcAddr =~ /10\\.0\n                    ^^^^^^",
    ),
    (
        "filter (srcAddr = 1",
        "line 1, column 20: expected ')', found the end of the query\n  filter (srcAddr = 1\n                     ^",
    ),
    (
        "stats count(*) by bin(5parsecs)",
        "line 1, column 23: unknown time unit 'parsecs': use ms, s, m, h, d, w, mo, q or y\n  stats count(*) by bin(5parsecs)\n                        ^^^^^^^^",
    ),
    (
        "parse @message \"* *\" as a",
        "line 1, column 16: the pattern captures 2 value(s) but 1 name(s) follow 'as'\n  parse @message \"* *\" as a\n                 ^^^^^",
    ),
    (
        "pct(bytes)",
        "line 1, column 1: unknown command 'pct': expected fields, display, filter, stats, sort, limit, parse or dedup\n  pct(bytes)\n  ^^^",
    ),
    (
        "stats pct(bytes) by srcAddr",
        "line 1, column 7: pct takes 2 argument(s), not 1\n  stats pct(bytes) by srcAddr\n        ^^^^^^^^^^",
    ),
    (
        "fields srcAddr\n| filter dstPort ==22",
        "line 2, column 19: expected a field, a value or a function, found '='\n  | filter dstPort ==22\n                    ^",
    ),
    (
        "filter srcAddr not like 5",
        "line 1, column 25: expected a \"string\" or a /regex/ after 'like', found the number 5\n  filter srcAddr not like 5\n                          ^",
    ),
    (
        "SOURCE logGroups(namePrefix: ['a'])",
        "line 1, column 1: the source command is not supported by vpcflow yet\n  SOURCE logGroups(namePrefix: ['a'])\n  ^^^^^^",
    ),
    (
        "",
        "line 1, column 1: expected a command (fields, filter, stats, sort, limit, parse, dedup, display), found the end of the query\n  \n  ^",
    ),
];

#[test]
fn errors_point_at_the_token() {
    for (q, want) in ERRORS {
        let e: ParseError = parse(q).expect_err(q);
        assert_eq!(e.render(q), *want, "{q}");
    }
}

mod robust {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text parses or is refused with a span inside the query; never a panic.
        #[test]
        fn any_text_parses_or_is_refused_in_bounds(q in "[a-z@ |,()\\[\\]=!<>~+*/^%'\"`#0-9.-]{0,60}") {
            if let Err(e) = parse(&q) {
                prop_assert!(e.span.start <= q.len() && e.span.end <= q.len() + 1, "{e:?}");
                let _ = e.render(&q);
            }
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    for open in ["(", "not ", "-", "abs(", "2 ^ "] {
        let q = format!("fields {}1", open.repeat(2000));
        let e = parse(&q).expect_err(open);
        assert!(
            e.message.contains("nests more than 64 levels"),
            "{open}: {}",
            e.message
        );
    }
    // Within the bound it parses.
    parse(&format!("fields {}1{}", "(".repeat(30), ")".repeat(30))).unwrap();
}

#[test]
fn long_operator_chains_are_refused_at_the_operator_past_the_bound() {
    for op in ["+", "*", " and ", " or ", "-"] {
        let chain = |n: usize| format!("fields {}", vec!["1"; n].join(op));
        // 1 000 operators parse; the 1 001st is refused, pointing at its right operand.
        parse(&chain(1001)).unwrap_or_else(|e| panic!("{op}: {}", e.message));
        let e = parse(&chain(1002)).expect_err(op);
        assert!(
            e.message.contains("more than 1000 operators"),
            "{op}: {}",
            e.message
        );
        let q = chain(1002);
        assert_eq!(&q[e.span.start..e.span.end], "1", "{op}");
        assert_eq!(e.span.end, q.len(), "{op}: the last operand");
    }
}
