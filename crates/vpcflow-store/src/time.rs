//! Time as every crate shares it: the injected wall [`Clock`] (domain code reads no clock of its
//! own; the binary passes the system's, tests pass their own) and the one copy of the proleptic
//! Gregorian calendar arithmetic in UTC (Howard Hinnant's days ↔ civil algorithms) that S3 keys,
//! file names, AWS CLI timestamps and RFC 3339 flags are made and read with.

/// Wall time for pacing, backoff and ingestion times.
pub trait Clock: Send + Sync {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> u64;
    /// Waits `ms` milliseconds.
    fn sleep_ms(&self, ms: u64);
}

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
    /// Second, 0–59.
    pub second: u32,
}

impl Civil {
    /// The date and time of Unix seconds.
    pub fn of_secs(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Unix seconds of this date and time; `None` for a month or time of day out of range, or a
    /// time before the epoch. Days past the month's end roll over, as in C's `timegm`.
    pub fn to_secs(self) -> Option<u64> {
        if !(1..=12).contains(&self.month)
            || !(1..=31).contains(&self.day)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
        {
            return None;
        }
        let days = days_from_civil(self.year, i64::from(self.month), i64::from(self.day));
        let t = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        u64::try_from(t).ok()
    }
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time in ms as the AWS CLI prints timestamps: ISO 8601 with microseconds, in UTC
/// (`2026-01-15T14:00:00.123000+00:00`).
pub fn aws_cli_time(ms: u64) -> String {
    iso8601(ms, &format!("{:06}", (ms % 1000) * 1000), "+00:00")
}

/// A time in ms as AWS's XML protocols write timestamps: ISO 8601, milliseconds, `Z`
/// (`2026-01-15T14:00:00.000Z`; clients refuse a time without the `T` or the zone).
pub fn aws_xml_time(ms: u64) -> String {
    iso8601(ms, &format!("{:03}", ms % 1000), "Z")
}

/// `YYYY-MM-DDTHH:MM:SS.` then `fraction` and `zone`.
fn iso8601(ms: u64, fraction: &str, zone: &str) -> String {
    let c = Civil::of_secs(ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{fraction}{zone}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn civil_rows() {
        for (secs, want) in [
            (0, (1970, 1, 1, 0, 0, 0)),
            (951_782_400, (2000, 2, 29, 0, 0, 0)),
            (1_529_511_600, (2018, 6, 20, 16, 20, 0)),
            (1_709_251_199, (2024, 2, 29, 23, 59, 59)),
            (1_768_485_905, (2026, 1, 15, 14, 5, 5)),
            (4_107_542_399, (2100, 2, 28, 23, 59, 59)),
        ] {
            let c = Civil::of_secs(secs);
            assert_eq!(
                (c.year, c.month, c.day, c.hour, c.minute, c.second),
                want,
                "{secs}"
            );
        }
        assert_eq!(
            aws_cli_time(1_768_485_905_123),
            "2026-01-15T14:05:05.123000+00:00"
        );
    }

    #[test]
    fn out_of_range_dates_have_no_time() {
        let ok = Civil::of_secs(0);
        for bad in [
            Civil { month: 13, ..ok },
            Civil { day: 0, ..ok },
            Civil { hour: 24, ..ok },
            Civil { minute: 60, ..ok },
            Civil { year: 1969, ..ok },
        ] {
            assert_eq!(bad.to_secs(), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn secs_to_civil_and_back(secs in 0u64..253_402_300_800) {
            prop_assert_eq!(Civil::of_secs(secs).to_secs(), Some(secs));
        }
    }
}
