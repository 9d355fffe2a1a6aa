//! Scalar functions DataFusion lacks, registered once per session: Logs Insights' IP functions
//! (query.md §1.3; DataFusion has no inet type) and the Presto/Athena functions that AWS's
//! sample queries use (`date()`, `day_of_week()`, `to_iso8601()`, `date_format()`; §4.2).
//!
//! Each function is one row of [`FUNCTIONS`], registered with a session by [`register`] (the
//! Insights planner and SQL both look them up there): name, arity, result type and a plain
//! function over Arrow arrays. Arguments are cast to the type the function reads (strings, or
//! timestamps in seconds), so callers may pass any column.

use std::net::IpAddr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray, TimestampSecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use ipnet::IpNet;

type Kernel = fn(&[ArrayRef]) -> Result<ArrayRef>;

/// One function: what SQL and the Insights planner call.
#[derive(Debug)]
struct Udf {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    kernel: Kernel,
}

// A function is its name: the table holds each name once.
impl PartialEq for Udf {
    fn eq(&self, other: &Udf) -> bool {
        self.name == other.name
    }
}
impl Eq for Udf {}
impl std::hash::Hash for Udf {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

impl ScalarUDFImpl for Udf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = (self.kernel)(&arrays)?;
        if scalar && out.len() == 1 {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&out, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// The functions: name, number of arguments, result type, kernel.
const FUNCTIONS: &[(&str, usize, DataType, Kernel)] = &[
    ("isValidIp", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| ip.is_some())
    }),
    ("isValidIpV4", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| matches!(ip, Some(IpAddr::V4(_))))
    }),
    ("isValidIpV6", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| matches!(ip, Some(IpAddr::V6(_))))
    }),
    ("isPrivateIP", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| matches!(ip, Some(IpAddr::V4(v)) if v.is_private()))
    }),
    ("isPublicIP", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| ip.is_some_and(|ip| !reserved(ip)))
    }),
    ("isReservedIP", 1, DataType::Boolean, |a| {
        ip_test(a, |ip| ip.is_some_and(reserved))
    }),
    ("ipv4ToNumber", 1, DataType::Int64, ipv4_to_number),
    ("isIpInSubnet", 2, DataType::Boolean, |a| {
        in_subnet(a, |_| true)
    }),
    ("isIpv4InSubnet", 2, DataType::Boolean, |a| {
        in_subnet(a, |ip| ip.is_ipv4())
    }),
    ("isIpv6InSubnet", 2, DataType::Boolean, |a| {
        in_subnet(a, |ip| ip.is_ipv6())
    }),
    ("vpcflowPtr", 2, DataType::Utf8, ptr),
    ("naturalSortKey", 1, DataType::Binary, natural_sort_key),
    ("urlencode", 1, DataType::Utf8, |a| {
        map_str(a, |s| Some(urlencode(s)))
    }),
    ("urldecode", 1, DataType::Utf8, |a| map_str(a, urldecode)),
    ("base64encode", 1, DataType::Utf8, |a| {
        map_str(a, |s| {
            Some(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                s,
            ))
        })
    }),
    ("base64decode", 1, DataType::Utf8, |a| {
        map_str(a, |s| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        })
    }),
    ("split", 2, DataType::Utf8, split),
    ("hexToAscii", 1, DataType::Utf8, |a| {
        map_str(a, |s| {
            let h = s.strip_prefix("0x").unwrap_or(s);
            (h.len() % 2 == 0)
                .then(|| {
                    (0..h.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
                        .collect::<Option<Vec<u8>>>()
                })
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
        })
    }),
    ("hexToDec", 1, DataType::Int64, hex_to_dec),
    ("decToHex", 1, DataType::Utf8, |a| {
        let n = cast(&a[0], &DataType::Int64)?;
        let n = n
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .unwrap_or_else(|| Int64Array::from(vec![None; a[0].len()]));
        Ok(Arc::new(
            n.iter()
                .map(|v| v.map(|v| format!("{v:#x}")))
                .collect::<StringArray>(),
        ))
    }),
    ("date", 1, DataType::Date32, date),
    ("day_of_week", 1, DataType::Int64, day_of_week),
    ("dow", 1, DataType::Int64, day_of_week),
    ("to_iso8601", 1, DataType::Utf8, to_iso8601),
    ("date_format", 2, DataType::Utf8, date_format),
];

/// Registers every function of [`FUNCTIONS`] with `ctx`.
pub fn register(ctx: &SessionContext) {
    for f in all() {
        ctx.register_udf(f);
    }
}

/// Every function of [`FUNCTIONS`].
pub fn all() -> impl Iterator<Item = ScalarUDF> {
    FUNCTIONS.iter().map(|(name, arity, returns, kernel)| {
        ScalarUDF::from(Udf {
            name,
            signature: Signature::any(*arity, Volatility::Immutable),
            returns: returns.clone(),
            kernel: *kernel,
        })
    })
}

/// The function of [`FUNCTIONS`] called `name`, if it is one of ours (the cluster's codec
/// makes it again on an executor by its name).
pub fn by_name(name: &str) -> Option<ScalarUDF> {
    all().find(|f| f.name() == name)
}

fn map_str(a: &[ArrayRef], f: impl Fn(&str) -> Option<String>) -> Result<ArrayRef> {
    let s = strings(&a[0])?;
    let s = as_strings(&s)?;
    Ok(Arc::new(
        s.iter().map(|v| v.and_then(&f)).collect::<StringArray>(),
    ))
}

/// Strings (the first argument, as text) to integers; null where `f` finds none.
fn map_str_int(a: &[ArrayRef], f: impl Fn(&str) -> Option<i64>) -> Result<ArrayRef> {
    let s = strings(&a[0])?;
    let s = as_strings(&s)?;
    Ok(Arc::new(
        s.iter().map(|v| v.and_then(&f)).collect::<Int64Array>(),
    ))
}

/// `@ptr`: an opaque, stable pointer to an event (a hash of its stream and message).
fn ptr(a: &[ArrayRef]) -> Result<ArrayRef> {
    use std::hash::{Hash as _, Hasher as _};
    let stream = strings(&a[0])?;
    let stream = as_strings(&stream)?;
    let msg = strings(&a[1])?;
    let msg = as_strings(&msg)?;
    Ok(Arc::new(
        (0..msg.len())
            .map(|i| {
                let mut h = rustc_hash::FxHasher::default();
                (!stream.is_null(i)).then(|| stream.value(i)).hash(&mut h);
                (!msg.is_null(i)).then(|| msg.value(i)).hash(&mut h);
                Some(format!("{:016x}", h.finish()))
            })
            .collect::<StringArray>(),
    ))
}

/// Insights' documented sort order as bytes ([`crate::insights::sort::natural_key`]).
fn natural_sort_key(a: &[ArrayRef]) -> Result<ArrayRef> {
    let s = strings(&a[0])?;
    let s = as_strings(&s)?;
    let mut b = datafusion::arrow::array::BinaryBuilder::with_capacity(s.len(), s.len() * 16);
    let mut key = Vec::new();
    for v in s.iter() {
        match v {
            Some(v) => {
                key.clear();
                crate::insights::sort::natural_key(v, &mut key);
                b.append_value(&key);
            }
            None => b.append_null(),
        }
    }
    Ok(Arc::new(b.finish()))
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn urldecode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `split(s, delimiter)`: the parts, shown as a JSON array of strings.
fn split(a: &[ArrayRef]) -> Result<ArrayRef> {
    let s = strings(&a[0])?;
    let s = as_strings(&s)?;
    let d = strings(&a[1])?;
    let d = as_strings(&d)?;
    Ok(Arc::new(
        (0..s.len())
            .map(|i| {
                (!s.is_null(i) && !d.is_null(i)).then(|| {
                    let parts: Vec<String> = s
                        .value(i)
                        .split(d.value(i))
                        .map(|p| format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
                        .collect();
                    format!("[{}]", parts.join(","))
                })
            })
            .collect::<StringArray>(),
    ))
}

fn hex_to_dec(a: &[ArrayRef]) -> Result<ArrayRef> {
    map_str_int(a, |v| {
        let h = v
            .strip_prefix("0x")
            .or_else(|| v.strip_prefix("0X"))
            .unwrap_or(v);
        i64::from_str_radix(h, 16).ok()
    })
}

fn strings(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(a, &DataType::Utf8)?)
}

fn as_strings(a: &ArrayRef) -> Result<&StringArray> {
    a.as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataFusionError::Internal("expected strings".into()))
}

/// IANA special-purpose ranges Insights calls reserved (RFC 1918 private included).
fn reserved(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_documentation()
                || v.is_unspecified()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            v.is_loopback()
                || v.is_unspecified()
                || v.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0xdb8)
        }
    }
}

fn ip_test(a: &[ArrayRef], test: fn(Option<IpAddr>) -> bool) -> Result<ArrayRef> {
    let s = strings(&a[0])?;
    let s = as_strings(&s)?;
    Ok(Arc::new(
        s.iter()
            .map(|v| Some(test(v.and_then(|v| v.parse().ok()))))
            .collect::<BooleanArray>(),
    ))
}

fn ipv4_to_number(a: &[ArrayRef]) -> Result<ArrayRef> {
    map_str_int(a, |v| {
        v.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|ip| i64::from(u32::from(ip)))
    })
}

fn in_subnet(a: &[ArrayRef], family: fn(&IpAddr) -> bool) -> Result<ArrayRef> {
    let ips = strings(&a[0])?;
    let ips = as_strings(&ips)?;
    let nets = strings(&a[1])?;
    let nets = as_strings(&nets)?;
    // The subnet is almost always one literal: parse it once.
    let constant = (nets.len() > 0 && (0..nets.len()).all(|i| nets.value(i) == nets.value(0)))
        .then(|| parse_net(nets.value(0)))
        .transpose()?;
    let mut out = Vec::with_capacity(ips.len());
    for i in 0..ips.len() {
        let net = match constant {
            Some(n) => Some(n),
            None if nets.is_null(i) => None,
            None => Some(parse_net(nets.value(i))?),
        };
        let ip = (!ips.is_null(i))
            .then(|| ips.value(i).parse::<IpAddr>().ok())
            .flatten();
        out.push(Some(match (ip, net) {
            (Some(ip), Some(net)) => family(&ip) && net.contains(&ip),
            _ => false,
        }));
    }
    Ok(Arc::new(BooleanArray::from(out)))
}

fn parse_net(s: &str) -> Result<IpNet> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            DataFusionError::Plan(format!(
                "'{s}' is not a CIDR block (expected like \"192.0.2.0/24\")"
            ))
        })
}

fn seconds(a: &ArrayRef) -> Result<TimestampSecondArray> {
    let t = match a.data_type() {
        DataType::Int32 | DataType::Int64 => cast(
            &cast(a, &DataType::Int64)?,
            &DataType::Timestamp(TimeUnit::Second, None),
        )?,
        DataType::Date32 | DataType::Date64 | DataType::Utf8 | DataType::Utf8View => {
            cast(a, &DataType::Timestamp(TimeUnit::Second, None))?
        }
        _ => cast(a, &DataType::Timestamp(TimeUnit::Second, None))?,
    };
    t.as_any()
        .downcast_ref::<TimestampSecondArray>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("expected timestamps".into()))
}

/// `date('2020-05-04')`, or the date of a timestamp.
fn date(a: &[ArrayRef]) -> Result<ArrayRef> {
    cast(&a[0], &DataType::Date32)
        .map_err(|e| DataFusionError::Execution(format!("date(): {e} (expected 'YYYY-MM-DD')")))
}

/// ISO day of the week, Monday = 1 … Sunday = 7 (Presto's `day_of_week`).
fn day_of_week(a: &[ArrayRef]) -> Result<ArrayRef> {
    let d = cast(&a[0], &DataType::Date32)?;
    let d = d
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| DataFusionError::Internal("expected dates".into()))?;
    Ok(Arc::new(
        d.iter()
            .map(|v| v.map(|days| i64::from((days + 3).rem_euclid(7) + 1)))
            .collect::<Int64Array>(),
    ))
}

/// `2021-04-01T00:00:00.000Z`, as Presto writes a UTC timestamp.
fn to_iso8601(a: &[ArrayRef]) -> Result<ArrayRef> {
    let ms = cast(&a[0], &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    let ms = ms
        .as_any()
        .downcast_ref::<datafusion::arrow::array::TimestampMillisecondArray>()
        .ok_or_else(|| DataFusionError::Internal("expected timestamps".into()))?;
    Ok(Arc::new(
        ms.iter()
            .map(|v| {
                v.and_then(datafusion::arrow::array::temporal_conversions::timestamp_ms_to_datetime)
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            })
            .collect::<StringArray>(),
    ))
}

/// Presto's `date_format(ts, format)` with MySQL-style specifiers (`%Y-%m-%d %H:%i:%s`).
fn date_format(a: &[ArrayRef]) -> Result<ArrayRef> {
    let ts = seconds(&a[0])?;
    let fmts = strings(&a[1])?;
    let fmts = as_strings(&fmts)?;
    let mut out = Vec::with_capacity(ts.len());
    for i in 0..ts.len() {
        if ts.is_null(i) || fmts.is_null(i) {
            out.push(None);
            continue;
        }
        let f = mysql_to_strftime(fmts.value(i));
        out.push(
            datafusion::arrow::array::temporal_conversions::timestamp_s_to_datetime(ts.value(i))
                .map(|t| t.format(&f).to_string()),
        );
    }
    Ok(Arc::new(StringArray::from(out)))
}

fn mysql_to_strftime(f: &str) -> String {
    let mut out = String::with_capacity(f.len());
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i') => out.push_str("%M"),
            Some('s' | 'S') => out.push_str("%S"),
            Some('h' | 'I') => out.push_str("%I"),
            Some('k') => out.push_str("%k"),
            Some('l') => out.push_str("%l"),
            Some('M') => out.push_str("%B"),
            Some('W') => out.push_str("%A"),
            Some('a') => out.push_str("%a"),
            Some('b') => out.push_str("%b"),
            Some('c') => out.push_str("%-m"),
            Some('e') => out.push_str("%-d"),
            Some('f') => out.push_str("%6f"),
            Some('j') => out.push_str("%j"),
            Some('p') => out.push_str("%p"),
            Some('r') => out.push_str("%I:%M:%S %p"),
            Some('T') => out.push_str("%H:%M:%S"),
            Some('v') => out.push_str("%V"),
            Some('x') => out.push_str("%G"),
            Some('%') => out.push_str("%%"),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push_str("%%"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    #[test]
    fn subnet_tests_follow_the_family_and_the_prefix() {
        let ips = s(&[
            Some("192.0.2.7"),
            Some("192.0.3.1"),
            Some("2001:db8::1"),
            None,
            Some("x"),
        ]);
        let net = s(&[Some("192.0.2.0/24"); 5]);
        let r = in_subnet(&[Arc::clone(&ips), net], |ip| ip.is_ipv4()).unwrap();
        let r = r.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            vec![
                Some(true),
                Some(false),
                Some(false),
                Some(false),
                Some(false)
            ]
        );
        let net6 = s(&[Some("2001:db8::/32"); 5]);
        let r = in_subnet(&[ips, net6], |ip| ip.is_ipv6()).unwrap();
        assert!(r.as_any().downcast_ref::<BooleanArray>().unwrap().value(2));
        assert!(in_subnet(&[s(&[Some("1.2.3.4")]), s(&[Some("nonsense")])], |_| true).is_err());
    }

    #[test]
    fn private_public_and_reserved() {
        let ips = s(&[
            Some("10.1.2.3"),
            Some("8.8.8.8"),
            Some("100.64.0.1"),
            Some("172.32.0.1"),
        ]);
        let private = ip_test(
            std::slice::from_ref(&ips),
            |ip| matches!(ip, Some(IpAddr::V4(v)) if v.is_private()),
        )
        .unwrap();
        let private = private.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(
            private.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), Some(false), Some(false)]
        );
        let public = ip_test(&[ips], |ip| ip.is_some_and(|ip| !reserved(ip))).unwrap();
        let public = public.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(
            public.iter().collect::<Vec<_>>(),
            vec![Some(false), Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn presto_dates() {
        let d = date(&[s(&[Some("2020-05-04")])]).unwrap();
        let dow = day_of_week(&[d]).unwrap();
        // 2020-05-04 was a Monday.
        assert_eq!(
            dow.as_any().downcast_ref::<Int64Array>().unwrap().value(0),
            1
        );
        let t: ArrayRef = Arc::new(Int64Array::from(vec![1_617_235_200]));
        let iso =
            to_iso8601(&[cast(&t, &DataType::Timestamp(TimeUnit::Second, None)).unwrap()]).unwrap();
        assert_eq!(
            as_strings(&iso).unwrap().value(0),
            "2021-04-01T00:00:00.000Z"
        );
        let f = date_format(&[t, s(&[Some("%Y-%m-%d %H:%i:%s")])]).unwrap();
        assert_eq!(as_strings(&f).unwrap().value(0), "2021-04-01 00:00:00");
    }
}
