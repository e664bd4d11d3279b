//! UTC timestamps in the one shape the schema accepts: `YYYY-MM-DDTHH:MM:SSZ`.

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Formats epoch seconds into `buf` without allocating (hot path of the seed).
pub fn format_into(epoch: i64, buf: &mut [u8; 20]) -> &str {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let put = |b: &mut [u8], v: i64| {
        for (i, slot) in b.iter_mut().rev().enumerate() {
            *slot = b'0' + ((v / 10i64.pow(i as u32)) % 10) as u8;
        }
    };
    put(&mut buf[0..4], y);
    buf[4] = b'-';
    put(&mut buf[5..7], m);
    buf[7] = b'-';
    put(&mut buf[8..10], d);
    buf[10] = b'T';
    put(&mut buf[11..13], secs / 3600);
    buf[13] = b':';
    put(&mut buf[14..16], secs / 60 % 60);
    buf[16] = b':';
    put(&mut buf[17..19], secs % 60);
    buf[19] = b'Z';
    std::str::from_utf8(buf).unwrap_or("1970-01-01T00:00:00Z")
}

pub fn format(epoch: i64) -> String {
    let mut b = [0u8; 20];
    format_into(epoch, &mut b).to_string()
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(b.get(r)?).ok()?.parse().ok()
    };
    if !(b.len() == 10 || (b.len() == 20 && b[10] == b'T' && b[19] == b'Z'))
        || b[4] != b'-'
        || b[7] != b'-'
    {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (hh, mm, ss) = if b.len() == 20 {
        (num(11..13)?, num(14..16)?, num(17..19)?)
    } else {
        (0, 0, 0)
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

// Howard Hinnant's algorithms (public domain).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(parse("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse("2023-02-29"), None);
        assert_eq!(parse("2026-11-18T11:06:40Z"), Some(1_795_000_000));
        assert_eq!(parse("garbage"), None);
    }

    proptest! {
        #[test]
        fn roundtrip(t in 0i64..4_102_444_800) {
            prop_assert_eq!(parse(&format(t)), Some(t));
        }
    }
}
