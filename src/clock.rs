//! Reads the wall clock for the hub: UTC microseconds plus the local broken-down time that the wire
//! format's `timestamp` uses (docs/PROTOCOL.md §4.1). The only place the server asks for the time
//! zone.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use classcord_core::hub::{LocalTime, Now};

/// The current time.
pub fn now() -> Now {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let unix_micros = u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX);
    let seconds = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    // The time-zone breakdown changes once a second: cache it per thread.
    let local = LAST_SECOND.with(|last| {
        let (cached_second, mut local) = last.get();
        if cached_second != seconds {
            local = local_time(seconds, 0);
            last.set((seconds, local));
        }
        local
    });
    Now {
        unix_micros,
        local: LocalTime { micros, ..local },
    }
}

thread_local! {
    static LAST_SECOND: Cell<(u64, LocalTime)> = const {
        Cell::new((u64::MAX, LocalTime { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, micros: 0 }))
    };
}

/// Breaks `seconds` down in the local time zone. Falls back to UTC if the C library cannot, or if
/// `seconds` does not fit the target's `time_t` (32 bits on armv7 glibc: after January 2038 the
/// clock then reads UTC rather than stopping at the last second that fits).
pub fn local_time(seconds: u64, micros: u32) -> LocalTime {
    let Some(tm) = c_local_time(libc::localtime_r, seconds) else {
        return utc_time(seconds, micros);
    };
    LocalTime {
        year: tm.tm_year + 1900,
        month: u8::try_from(tm.tm_mon + 1).unwrap_or(1),
        day: u8::try_from(tm.tm_mday).unwrap_or(1),
        hour: u8::try_from(tm.tm_hour).unwrap_or(0),
        minute: u8::try_from(tm.tm_min).unwrap_or(0),
        second: u8::try_from(tm.tm_sec).unwrap_or(0),
        micros,
    }
}

/// Calls `localtime_r` with `seconds` as the C `time_t` that its binding declares. That type is
/// inferred here, never named: the libc crate deprecates the name `libc::time_t` on musl (its width
/// there is due to change to follow musl 1.2), and whatever width the binding has, a value that
/// does not fit is refused rather than clamped.
fn c_local_time<T: TryFrom<u64>>(
    localtime_r: unsafe extern "C" fn(*const T, *mut libc::tm) -> *mut libc::tm,
    seconds: u64,
) -> Option<libc::tm> {
    let time = T::try_from(seconds).ok()?;
    // SAFETY: `tm` is plain old data that localtime_r fully initialises on success; localtime_r is
    // the thread-safe variant and only reads `time`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !localtime_r(&time, &mut tm).is_null() };
    ok.then_some(tm)
}

/// UTC civil time from days since the epoch (Howard Hinnant's algorithm).
fn utc_time(seconds: u64, micros: u32) -> LocalTime {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    LocalTime {
        year: i32::try_from(year).unwrap_or(1970),
        month: month as u8,
        day: day as u8,
        hour: (rem / 3600) as u8,
        minute: (rem % 3600 / 60) as u8,
        second: (rem % 60) as u8,
        micros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_breakdown_matches_known_dates() {
        let t = utc_time(1_764_063_907, 5);
        assert_eq!(t.iso(), "2025-11-25T09:45:07.000005");
        assert_eq!(utc_time(951_782_400, 0).iso(), "2000-02-29T00:00:00.000000");
    }

    #[test]
    fn local_time_after_2038_does_not_stop_at_the_32_bit_time_t_limit() {
        // 2040-01-01T00:00:00Z: any time zone (offsets within 14 h) puts it in 2039 or 2040; a
        // 32-bit time_t clamped to its maximum gave 2038.
        let year = local_time(2_208_988_800, 0).year;
        assert!(year == 2039 || year == 2040, "{year}");
    }

    #[test]
    fn now_has_six_digit_fraction() {
        let now = now();
        let iso = now.local.iso();
        assert_eq!(iso.len(), 26, "{iso}");
        assert!(now.unix_micros > 1_700_000_000_000_000);
    }
}
