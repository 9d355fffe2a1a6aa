//! The one table of Logs Insights functions (query.md §1.3): name, kind, arity. The parser
//! validates calls against it, the planner will map each to DataFusion, and the tests walk it.

/// Where a function may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnKind {
    /// Anywhere an expression may.
    Scalar,
    /// In `stats` only: folds many events into one value.
    Aggregate,
    /// In `stats` only, picking one event's value (`earliest`, `latest`, `sortsFirst`, `sortsLast`).
    Pick,
    /// In `stats … by` only: `bin(period)`.
    Bin,
}

/// One function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FnDef {
    /// The name as AWS documents it.
    pub name: &'static str,
    /// Kind.
    pub kind: FnKind,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments (`usize::MAX`: any number).
    pub max_args: usize,
    /// What it does.
    pub doc: &'static str,
}

const ANY: usize = usize::MAX;

macro_rules! functions {
    ($( $name:literal $kind:ident $min:literal..$max:tt, $doc:literal; )*) => {
        /// Every function, once.
        pub static FUNCTIONS: &[FnDef] = &[
            $( FnDef { name: $name, kind: FnKind::$kind, min_args: $min, max_args: functions!(@max $max), doc: $doc }, )*
        ];
    };
    (@max any) => { ANY };
    (@max $n:literal) => { $n };
}

functions! {
    "abs" Scalar 1..1, "absolute value";
    "ceil" Scalar 1..1, "round up";
    "floor" Scalar 1..1, "round down";
    "greatest" Scalar 1..any, "largest argument";
    "least" Scalar 1..any, "smallest argument";
    "log" Scalar 1..1, "natural logarithm";
    "round" Scalar 1..2, "round, optionally to d decimals";
    "sqrt" Scalar 1..1, "square root";
    "haversine" Scalar 4..4, "great-circle distance in km";
    "toNumber" Scalar 1..1, "string to number";
    "toInt" Scalar 1..1, "to a 32-bit integer";
    "toLong" Scalar 1..1, "to a 64-bit integer";
    "toDouble" Scalar 1..1, "to a double";
    "bin" Bin 1..1, "@timestamp rounded down to the period (stats … by)";
    "datefloor" Scalar 2..2, "timestamp rounded down to a period";
    "dateceil" Scalar 2..2, "timestamp rounded up to a period";
    "fromMillis" Scalar 1..1, "epoch milliseconds to a timestamp";
    "toMillis" Scalar 1..1, "timestamp to epoch milliseconds";
    "now" Scalar 0..0, "query start, epoch seconds";
    "parseDate" Scalar 2..3, "string to epoch milliseconds (Java format, time zone)";
    "formatDate" Scalar 2..3, "timestamp to string (strftime format, time zone)";
    "strftime" Scalar 2..3, "alias of formatDate";
    "ispresent" Scalar 1..1, "the field exists";
    "coalesce" Scalar 1..any, "first present argument";
    "case" Scalar 2..21, "case(c1, v1, c2, v2, …, default)";
    "if" Scalar 3..3, "if(condition, then, else)";
    "isNumeric" Scalar 1..1, "the value is a number";
    "messageSize" Scalar 1..1, "size in bytes";
    "queryStartTime" Scalar 0..0, "query start, epoch ms";
    "queryEndTime" Scalar 0..0, "query end, epoch ms";
    "queryTimeRange" Scalar 0..0, "query range in ms";
    "jsonParse" Scalar 1..1, "string to JSON value";
    "jsonStringify" Scalar 1..1, "JSON value to string";
    "jsonArraySize" Scalar 1..1, "length of a JSON array";
    "jsonArrayContains" Scalar 2..2, "a JSON array holds the value";
    "isValidIp" Scalar 1..1, "an IPv4 or IPv6 address";
    "isValidIpV4" Scalar 1..1, "an IPv4 address";
    "isValidIpV6" Scalar 1..1, "an IPv6 address";
    "isIpInSubnet" Scalar 2..2, "address in CIDR (v4 or v6)";
    "isIpv4InSubnet" Scalar 2..2, "IPv4 address in CIDR";
    "isIpv6InSubnet" Scalar 2..2, "IPv6 address in CIDR";
    "ipv4ToNumber" Scalar 1..1, "IPv4 address as a number";
    "isPrivateIP" Scalar 1..1, "RFC 1918 address";
    "isPublicIP" Scalar 1..1, "public address";
    "isReservedIP" Scalar 1..1, "reserved address";
    "isempty" Scalar 1..1, "missing or empty";
    "isblank" Scalar 1..1, "missing, empty or whitespace";
    "concat" Scalar 1..any, "concatenation";
    "ltrim" Scalar 1..2, "trim the left (whitespace or the given characters)";
    "rtrim" Scalar 1..2, "trim the right";
    "trim" Scalar 1..2, "trim both ends";
    "strlen" Scalar 1..1, "length in code points";
    "toupper" Scalar 1..1, "upper case";
    "tolower" Scalar 1..1, "lower case";
    "substr" Scalar 2..3, "substring, 0-based start and optional length";
    "replace" Scalar 3..3, "replace every occurrence";
    "regexReplace" Scalar 3..3, "replace matches of a regular expression";
    "strcontains" Scalar 2..3, "1 if it contains the value";
    "startsWith" Scalar 2..2, "1 if it starts with the value";
    "endsWith" Scalar 2..2, "1 if it ends with the value";
    "urlencode" Scalar 1..1, "URL encoding";
    "urldecode" Scalar 1..1, "URL decoding";
    "base64encode" Scalar 1..1, "base64 encoding";
    "base64decode" Scalar 1..1, "base64 decoding";
    "split" Scalar 2..2, "split into an array";
    "hexToAscii" Scalar 1..1, "hex to text";
    "hexToDec" Scalar 1..1, "hex to a number";
    "decToHex" Scalar 1..1, "a number to hex";
    "avg" Aggregate 1..1, "mean";
    "count" Aggregate 0..1, "events (count(*) or count()), or events where the field is present";
    "count_distinct" Aggregate 1..1, "distinct values";
    "max" Aggregate 1..1, "largest value";
    "min" Aggregate 1..1, "smallest value";
    "pct" Aggregate 2..2, "percentile: pct(field, p)";
    "stddev" Aggregate 1..1, "standard deviation";
    "sum" Aggregate 1..1, "total";
    "earliest" Pick 1..1, "the value of the event with the earliest @timestamp";
    "latest" Pick 1..1, "the value of the event with the latest @timestamp";
    "sortsFirst" Pick 1..1, "the value that sorts first";
    "sortsLast" Pick 1..1, "the value that sorts last";
}

/// A function by name (case-insensitive, as Insights accepts `COUNT` and `count`).
pub fn function(name: &str) -> Option<&'static FnDef> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The closest function name, for "did you mean".
pub fn suggest(name: &str) -> Option<&'static str> {
    FUNCTIONS
        .iter()
        .map(|f| {
            (
                edit_distance(&name.to_ascii_lowercase(), &f.name.to_ascii_lowercase()),
                f.name,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// The commands of the language this parser knows (query.md §1.2, the core set).
pub const COMMANDS: &[&str] = &[
    "fields", "display", "filter", "where", "stats", "sort", "limit", "parse", "dedup",
];

/// Commands AWS documents that are not implemented here.
pub const UNSUPPORTED_COMMANDS: &[&str] = &[
    "source",
    "filterindex",
    "pattern",
    "diff",
    "anomaly",
    "unmask",
    "unnest",
    "lookup",
    "join",
];

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
