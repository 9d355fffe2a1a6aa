//! Typed field values: the Rust type behind each flow-log field, how it reads from a text token
//! or an integer, and how it shows itself (as a [`Scalar`]).
//!
//! This module owns value-level validation (is `abc` a port? is `10.0.0.300` an address?). It
//! does not know field names or positions; [`crate::registry`] pairs each field with its type and
//! the codecs add the "where" to an error.

use std::fmt;
use std::net::IpAddr;

use compact_str::CompactString;

/// How a field is stored in Parquet/Arrow, and whether JSON shows it as a number.
///
/// AWS documents INT_32, INT_64 and STRING Parquet types (flow-log-format.md §3, §6.2); the
/// JSON contract of `vpcflow convert` makes exactly the integer-typed fields JSON numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Parquet INT_32 (Arrow `Int32`).
    Int32,
    /// Parquet INT_64 (Arrow `Int64`).
    Int64,
    /// Parquet STRING (Arrow `Utf8`).
    Utf8,
}

impl Kind {
    /// True for the integer kinds (JSON numbers).
    pub const fn is_int(self) -> bool {
        matches!(self, Kind::Int32 | Kind::Int64)
    }

    /// The type's name as AWS's field table and Athena DDL spell it.
    pub const fn parquet_name(self) -> &'static str {
        match self {
            Kind::Int32 => "INT_32",
            Kind::Int64 => "INT_64",
            Kind::Utf8 => "STRING",
        }
    }
}

/// A borrowed view of one present value: an integer, a word or string, or an address. Text
/// forms are written by [`Scalar::push_text`] without going through `fmt` machinery (the codecs
/// write millions of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// An integer field's value.
    Int(i64),
    /// A string or enumerated field's value, exactly as in a record line.
    Str(&'a str),
    /// An address field's value (IPv4 dotted quad, IPv6 in RFC 5952 form).
    Addr(IpAddr),
}

impl Scalar<'_> {
    /// Appends the value as a record line shows it.
    pub fn push_text(&self, out: &mut String) {
        match *self {
            Scalar::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
            Scalar::Str(s) => out.push_str(s),
            Scalar::Addr(IpAddr::V4(ip)) => push_ipv4(out, ip),
            Scalar::Addr(ip @ IpAddr::V6(_)) => {
                // Writing to a String cannot fail.
                let _ = fmt::Write::write_fmt(out, format_args!("{ip}"));
            }
        }
    }
}

/// Appends a dotted quad (what `Ipv4Addr`'s `Display` writes, without its formatter).
fn push_ipv4(out: &mut String, ip: std::net::Ipv4Addr) {
    let mut buf = itoa::Buffer::new();
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(buf.format(o));
    }
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Str(s) => f.write_str(s),
            Scalar::Addr(ip) => write!(f, "{ip}"),
        }
    }
}

/// Why a single value was refused. The codecs wrap it with the field, file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// An integer field held something that is not a non-negative decimal integer.
    #[error("'{token}' is not a number")]
    NotANumber {
        /// The offending text.
        token: String,
    },
    /// An integer outside the field's range.
    #[error("{value} is out of range (expected {min}..={max})")]
    OutOfRange {
        /// The value given, as written.
        value: String,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// An address field held something that is not an IPv4 or IPv6 address.
    #[error("'{token}' is not an IPv4 or IPv6 address")]
    BadAddress {
        /// The offending text.
        token: String,
    },
    /// A closed enumeration (action, log-status, …) held an unknown word.
    #[error("'{token}' is not one of {expected}")]
    NotInEnum {
        /// The offending text.
        token: String,
        /// The allowed words, for the message.
        expected: &'static str,
    },
    /// A text field was given a number (JSON input), which would lose e.g. leading zeros.
    #[error("expected a string, found the number {value}")]
    ExpectedText {
        /// The number given.
        value: i64,
    },
    /// An empty token: two spaces in a row, or a leading/trailing space.
    #[error("empty value (two spaces in a row, or a leading or trailing space)")]
    Empty,
    /// A text value containing a space, which no record line can carry.
    #[error("value '{token}' contains whitespace")]
    Whitespace {
        /// The offending text.
        token: String,
    },
}

/// The contract every field type fulfils; [`crate::registry`] pairs each field with one.
pub trait FieldValue: Sized + Clone + PartialEq + fmt::Debug {
    /// Storage kind (Parquet/Arrow type, JSON number or string).
    const KIND: Kind;
    /// Parses a record-line token (never `-`, which the codecs map to "absent" first).
    fn parse_text(token: &str) -> Result<Self, ValueError>;
    /// Builds from an integer (JSON number, Arrow integer column).
    fn from_int(value: i64) -> Result<Self, ValueError>;
    /// The value as a [`Scalar`].
    fn scalar(&self) -> Scalar<'_>;
    /// Checks a token as [`FieldValue::parse_text`] does, and gives its value as a [`Scalar`]
    /// that borrows the token: the text of a string or word value is the token itself, since
    /// parsing accepts only exact spellings.
    fn token_scalar(token: &str) -> Result<Scalar<'_>, ValueError> {
        Ok(match Self::parse_text(token)?.scalar() {
            Scalar::Int(v) => Scalar::Int(v),
            Scalar::Addr(a) => Scalar::Addr(a),
            Scalar::Str(_) => Scalar::Str(token),
        })
    }
}

/// Parses a non-negative decimal integer the way record lines write them (no sign, no spaces),
/// in one pass over the digits.
fn parse_u64(token: &str) -> Result<u64, ValueError> {
    let bytes = token.as_bytes();
    if bytes.is_empty() {
        return Err(ValueError::Empty);
    }
    let mut v: u64 = 0;
    for &b in bytes {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(ValueError::NotANumber {
                token: token.to_owned(),
            });
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
    }
    // 19 digits always fit in u64; anything longer is out of every range we store.
    Ok(if bytes.len() > 19 { u64::MAX } else { v })
}

fn check_range(value: i64, max: i64) -> Result<i64, ValueError> {
    if (0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ValueError::OutOfRange {
            value: value.to_string(),
            min: 0,
            max,
        })
    }
}

fn parse_int_token(token: &str, max: i64) -> Result<i64, ValueError> {
    match i64::try_from(parse_u64(token)?) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(ValueError::OutOfRange {
            value: token.to_owned(),
            min: 0,
            max,
        }),
    }
}

macro_rules! int_value {
    ($ty:ty, $kind:ident) => {
        impl FieldValue for $ty {
            const KIND: Kind = Kind::$kind;
            fn parse_text(token: &str) -> Result<Self, ValueError> {
                Self::from_int(parse_int_token(token, <$ty>::MAX as i64)?)
            }
            fn from_int(value: i64) -> Result<Self, ValueError> {
                let max = <$ty>::MAX as i64;
                check_range(value, max).map(|v| v as $ty)
            }
            fn scalar(&self) -> Scalar<'_> {
                Scalar::Int(*self as i64)
            }
        }
    };
}

int_value!(u8, Int32);
int_value!(u16, Int32);

/// Counters and Unix-second timestamps (`packets`, `bytes`, `start`, `end`): INT_64, never
/// negative, at most `i64::MAX` so that every value fits Parquet's signed INT_64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Count(pub u64);

impl FieldValue for Count {
    const KIND: Kind = Kind::Int64;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        parse_int_token(token, i64::MAX).map(|v| Count(v as u64))
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        check_range(value, i64::MAX).map(|v| Count(v as u64))
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Int(self.0 as i64)
    }
}

impl From<u64> for Count {
    fn from(v: u64) -> Self {
        Count(v)
    }
}

impl FieldValue for CompactString {
    const KIND: Kind = Kind::Utf8;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        Self::token_scalar(token).map(|_| CompactString::new(token))
    }
    fn token_scalar(token: &str) -> Result<Scalar<'_>, ValueError> {
        if token.is_empty() {
            return Err(ValueError::Empty);
        }
        if token.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(ValueError::Whitespace {
                token: token.to_owned(),
            });
        }
        Ok(Scalar::Str(token))
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        Err(ValueError::ExpectedText { value })
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Str(self.as_str())
    }
}

/// Dotted-quad IPv4 with std's rules (four decimal octets ≤ 255, no leading zeros), without the
/// generic parser's overhead: addresses are most of a v2 line's bytes.
fn parse_ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    let mut cur: u16 = 0;
    let mut digits = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                if digits > 0 && cur == 0 {
                    return None; // leading zero
                }
                cur = cur * 10 + u16::from(b - b'0');
                digits += 1;
                if cur > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && i < 3 => {
                octets[i] = cur as u8;
                i += 1;
                cur = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if i != 3 || digits == 0 {
        return None;
    }
    octets[3] = cur as u8;
    Some(octets.into())
}

impl FieldValue for IpAddr {
    const KIND: Kind = Kind::Utf8;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::BadAddress {
            token: token.to_owned(),
        };
        // Most addresses are IPv4: tried first, with no scan for ':' before.
        match parse_ipv4(token.as_bytes()) {
            Some(v4) => Ok(IpAddr::V4(v4)),
            None => token
                .parse::<std::net::Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| bad()),
        }
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        Err(ValueError::ExpectedText { value })
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Addr(*self)
    }
}

/// Declares a closed enumeration of words (the exact spellings AWS writes).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const EXPECTED: &'static str = concat!($($word, " "),+);

            /// The word as it appears in a record line.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(ValueError::NotInEnum {
                        token: s.to_owned(),
                        expected: Self::EXPECTED.trim_ascii_end(),
                    }),
                }
            }
        }

        impl FieldValue for $name {
            const KIND: Kind = Kind::Utf8;
            fn parse_text(token: &str) -> Result<Self, ValueError> {
                token.parse()
            }
            fn from_int(value: i64) -> Result<Self, ValueError> {
                Err(ValueError::ExpectedText { value })
            }
            fn scalar(&self) -> Scalar<'_> {
                Scalar::Str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// `action`: whether the security groups and network ACLs let the traffic through.
    Action { /// Allowed.
        Accept = "ACCEPT", /// Denied (or arrived after the connection closed).
        Reject = "REJECT" }
}

word_enum! {
    /// `log-status`: how logging went for the interval.
    LogStatus { /// Data logged normally.
        Ok = "OK", /// No traffic to or from the interface in the interval.
        NoData = "NODATA", /// Some records were skipped (capacity or error); never silent loss.
        SkipData = "SKIPDATA" }
}

word_enum! {
    /// `flow-direction`, relative to the interface where the traffic is captured.
    FlowDirection { /// Traffic arriving at the interface.
        Ingress = "ingress", /// Traffic leaving the interface.
        Egress = "egress" }
}

word_enum! {
    /// `type`: the kind of traffic.
    IpType { /// IPv4 traffic.
        IPv4 = "IPv4", /// IPv6 traffic.
        IPv6 = "IPv6", /// Elastic Fabric Adapter traffic.
        Efa = "EFA" }
}

word_enum! {
    /// `resource-type` (Transit Gateway flow logs): what the flow log is created on.
    TgwResourceType { /// A transit gateway.
        TransitGateway = "TransitGateway", /// One attachment of a transit gateway.
        TransitGatewayAttachment = "TransitGatewayAttachment" }
}

/// `protocol`: the IANA protocol number, with names for the ones flow logs commonly carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP (1).
    pub const ICMP: Protocol = Protocol(1);
    /// TCP (6).
    pub const TCP: Protocol = Protocol(6);
    /// UDP (17).
    pub const UDP: Protocol = Protocol(17);
    /// GRE (47).
    pub const GRE: Protocol = Protocol(47);
    /// IPsec ESP (50).
    pub const ESP: Protocol = Protocol(50);
    /// IPsec AH (51).
    pub const AH: Protocol = Protocol(51);
    /// ICMP for IPv6 (58).
    pub const ICMPV6: Protocol = Protocol(58);

    /// The IANA keyword for the protocols flow logs commonly carry; `None` for the rest.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "ICMP",
            2 => "IGMP",
            4 => "IPv4",
            6 => "TCP",
            17 => "UDP",
            41 => "IPv6",
            47 => "GRE",
            50 => "ESP",
            51 => "AH",
            58 => "IPv6-ICMP",
            89 => "OSPF",
            103 => "PIM",
            112 => "VRRP",
            132 => "SCTP",
            _ => return None,
        })
    }

    /// Looks a protocol up by its keyword (case-insensitive) or its number.
    pub fn from_name(s: &str) -> Option<Protocol> {
        if let Ok(n) = s.parse::<u8>() {
            return Some(Protocol(n));
        }
        (0..=255u8)
            .map(Protocol)
            .find(|p| p.name().is_some_and(|n| n.eq_ignore_ascii_case(s)))
    }
}

impl FieldValue for Protocol {
    const KIND: Kind = Kind::Int32;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        u8::parse_text(token).map(Protocol)
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        u8::from_int(value).map(Protocol)
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Int(i64::from(self.0))
    }
}

/// `tcp-flags`: the OR of the supported flags seen in the interval (FIN 1, SYN 2, RST 4,
/// SYN-ACK 18). Other bits are kept as given so that a record re-encodes to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 1;
    /// SYN without ACK.
    pub const SYN: u8 = 2;
    /// RST.
    pub const RST: u8 = 4;
    /// SYN with ACK (AWS reports 18 = SYN | ACK bit).
    pub const SYN_ACK: u8 = 18;

    /// The value AWS reports for one packet's TCP flag byte (RFC 793 bit layout:
    /// FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10): ACK and PSH alone report 0.
    pub const fn from_packet(flags: u8) -> TcpFlags {
        let mut v = 0;
        if flags & 0x01 != 0 {
            v |= Self::FIN;
        }
        if flags & 0x04 != 0 {
            v |= Self::RST;
        }
        if flags & 0x02 != 0 {
            v |= if flags & 0x10 != 0 {
                Self::SYN_ACK
            } else {
                Self::SYN
            };
        }
        TcpFlags(v)
    }

    /// ORs another packet's (or record's) flags in, as aggregation over an interval does.
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// The names of the flags set, e.g. `["SYN-ACK", "FIN"]` for 19.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.0 & Self::SYN_ACK == Self::SYN_ACK {
            names.push("SYN-ACK");
        } else if self.0 & Self::SYN != 0 {
            names.push("SYN");
        }
        if self.0 & Self::FIN != 0 {
            names.push("FIN");
        }
        if self.0 & Self::RST != 0 {
            names.push("RST");
        }
        names
    }
}

impl FieldValue for TcpFlags {
    const KIND: Kind = Kind::Int32;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        u8::parse_text(token).map(TcpFlags)
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        u8::from_int(value).map(TcpFlags)
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Int(i64::from(self.0))
    }
}

/// `traffic-path`: the path egress traffic takes (1–8, flow-log-format.md §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrafficPath(u8);

impl TrafficPath {
    /// Through another resource in the same VPC.
    pub const SAME_VPC: TrafficPath = TrafficPath(1);
    /// Through an internet gateway or a gateway VPC endpoint.
    pub const INTERNET_GATEWAY_OR_ENDPOINT: TrafficPath = TrafficPath(2);
    /// Through a virtual private gateway.
    pub const VIRTUAL_PRIVATE_GATEWAY: TrafficPath = TrafficPath(3);
    /// Through an intra-region VPC peering connection.
    pub const INTRA_REGION_PEERING: TrafficPath = TrafficPath(4);
    /// Through an inter-region VPC peering connection.
    pub const INTER_REGION_PEERING: TrafficPath = TrafficPath(5);
    /// Through a local gateway.
    pub const LOCAL_GATEWAY: TrafficPath = TrafficPath(6);
    /// Through a gateway VPC endpoint (Nitro-based instances only).
    pub const GATEWAY_ENDPOINT: TrafficPath = TrafficPath(7);
    /// Through an internet gateway (Nitro-based instances only).
    pub const INTERNET_GATEWAY: TrafficPath = TrafficPath(8);

    /// The path's number as written in a record.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// AWS's description of the path.
    pub const fn description(self) -> &'static str {
        match self.0 {
            1 => "through another resource in the same VPC",
            2 => "through an internet gateway or a gateway VPC endpoint",
            3 => "through a virtual private gateway",
            4 => "through an intra-region VPC peering connection",
            5 => "through an inter-region VPC peering connection",
            6 => "through a local gateway",
            7 => "through a gateway VPC endpoint",
            _ => "through an internet gateway",
        }
    }
}

impl FieldValue for TrafficPath {
    const KIND: Kind = Kind::Int32;
    fn parse_text(token: &str) -> Result<Self, ValueError> {
        Self::from_int(parse_int_token(token, 8)?)
    }
    fn from_int(value: i64) -> Result<Self, ValueError> {
        if (1..=8).contains(&value) {
            Ok(TrafficPath(value as u8))
        } else {
            Err(ValueError::OutOfRange {
                value: value.to_string(),
                min: 1,
                max: 8,
            })
        }
    }
    fn scalar(&self) -> Scalar<'_> {
        Scalar::Int(i64::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_reject_junk_and_range() {
        // (token, Ok(value) or error text)
        let rows: &[(&str, Result<u16, &str>)] = &[
            ("0", Ok(0)),
            ("22", Ok(22)),
            ("65535", Ok(65535)),
            ("65536", Err("65536 is out of range (expected 0..=65535)")),
            ("-1", Err("'-1' is not a number")),
            ("+1", Err("'+1' is not a number")),
            ("1.0", Err("'1.0' is not a number")),
            ("abc", Err("'abc' is not a number")),
            (
                "",
                Err("empty value (two spaces in a row, or a leading or trailing space)"),
            ),
            (
                "99999999999999999999",
                Err("99999999999999999999 is out of range (expected 0..=65535)"),
            ),
        ];
        for (token, want) in rows {
            let got = u16::parse_text(token).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "token {token:?}");
        }
    }

    #[test]
    fn counts_fit_signed_int64() {
        assert_eq!(
            Count::parse_text("9223372036854775807"),
            Ok(Count(i64::MAX as u64))
        );
        assert!(Count::parse_text("9223372036854775808").is_err());
        assert!(Count::from_int(-5).is_err());
    }

    #[test]
    fn fast_ipv4_agrees_with_std() {
        let rows = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.1.1.1",
            "1..1.1",
            ".1.1.1",
            "1.1.1.",
            "1.1.1.1 ",
            "a.b.c.d",
            "",
            "1.1.1.00",
            "0.0.0.0.",
            "1234.1.1.1",
            "999.1.1.1",
        ];
        for r in rows {
            assert_eq!(parse_ipv4(r.as_bytes()), r.parse().ok(), "{r:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_ipv4_agrees_with_std_on_anything(s in "[0-9.]{0,16}") {
            proptest::prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse().ok());
        }

        #[test]
        fn addresses_print_as_std_prints_them(v4 in proptest::prelude::any::<u32>(), v6 in proptest::prelude::any::<u128>()) {
            for ip in [IpAddr::from(std::net::Ipv4Addr::from(v4)), IpAddr::from(std::net::Ipv6Addr::from(v6))] {
                let mut out = String::from("x");
                Scalar::Addr(ip).push_text(&mut out);
                proptest::prop_assert_eq!(out, format!("x{ip}"));
            }
        }
    }

    #[test]
    fn addresses() {
        assert!(IpAddr::parse_text("172.31.16.139").is_ok());
        assert!(IpAddr::parse_text("2001:db8:1234:a100:8d6e:3477:df66:f105").is_ok());
        assert_eq!(
            IpAddr::parse_text("10.0.0.300").unwrap_err().to_string(),
            "'10.0.0.300' is not an IPv4 or IPv6 address"
        );
    }

    #[test]
    fn enums_round_trip_and_reject_unknown_words() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
        assert_eq!(
            "accept".parse::<Action>().unwrap_err().to_string(),
            "'accept' is not one of ACCEPT REJECT"
        );
        assert_eq!("SKIPDATA".parse::<LogStatus>(), Ok(LogStatus::SkipData));
        assert_eq!("EFA".parse::<IpType>(), Ok(IpType::Efa));
    }

    #[test]
    fn tcp_flags_follow_aws_rules() {
        // (raw TCP flag byte, reported value): AWS flow-log-format.md §3.2.
        let rows = [
            (0x02, 2),  // SYN
            (0x12, 18), // SYN+ACK
            (0x10, 0),  // ACK alone
            (0x18, 0),  // PSH+ACK
            (0x11, 1),  // FIN+ACK
            (0x04, 4),  // RST
            (0x14, 4),  // RST+ACK
            (0x42, 2),  // SYN+ECE
        ];
        for (raw, want) in rows {
            assert_eq!(TcpFlags::from_packet(raw).0, want, "raw {raw:#x}");
        }
        let interval = TcpFlags::from_packet(0x12).union(TcpFlags::from_packet(0x11));
        assert_eq!(interval.0, 19);
        assert_eq!(interval.names(), ["SYN-ACK", "FIN"]);
        assert_eq!(TcpFlags(3).names(), ["SYN", "FIN"]);
    }

    #[test]
    fn protocol_names() {
        assert_eq!(Protocol(6).name(), Some("TCP"));
        assert_eq!(Protocol(58).name(), Some("IPv6-ICMP"));
        assert_eq!(Protocol::from_name("udp"), Some(Protocol::UDP));
        assert_eq!(Protocol::from_name("47"), Some(Protocol::GRE));
        assert_eq!(Protocol::from_name("nope"), None);
    }

    #[test]
    fn traffic_path_is_one_to_eight() {
        assert_eq!(
            TrafficPath::parse_text("8"),
            Ok(TrafficPath::INTERNET_GATEWAY)
        );
        assert!(TrafficPath::parse_text("0").is_err());
        assert!(TrafficPath::parse_text("9").is_err());
    }
}
