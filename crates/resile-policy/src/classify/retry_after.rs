//! `Retry-After`: the server's own delay hint.
//!
//! Two forms (RFC 9110 §10.2.3): delta-seconds (`120`) and an HTTP-date in any of the
//! three formats a recipient must accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
//! GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
//! (`Sun Nov  6 08:49:37 1994`).
//!
//! A date counts from the response's own valid `Date` header, which cancels any skew
//! between our clock and the server's; without one, from the caller's wall time. A
//! date in the past means zero. Anything else (negative, fractional, empty, words,
//! digits that overflow 64 bits) is ignored: no hint, never an error or a panic.
//! Only the first header value counts.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

/// Parses one `Retry-After` value.
///
/// `date` is the response's `Date` header, `wall` the caller's calendar time; a
/// date-form hint needs one of them as its reference and is ignored without both.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use resile_policy::classify::parse_retry_after;
///
/// assert_eq!(parse_retry_after("120", None, None), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after(" 3 ", None, None), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("soon", None, None), None);
/// assert_eq!(parse_retry_after("-1", None, None), None);
/// assert_eq!(parse_retry_after("1.5", None, None), None);
/// assert_eq!(
///     parse_retry_after(
///         "Wed, 21 Oct 2026 07:28:00 GMT",
///         Some("Wed, 21 Oct 2026 07:27:00 GMT"),
///         None,
///     ),
///     Some(Duration::from_secs(60)),
/// );
/// ```
pub fn parse_retry_after(
    value: &str,
    date: Option<&str>,
    wall: Option<SystemTime>,
) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Overflowing u64 is garbage, not a long wait: ignore it.
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let target = httpdate::parse_http_date(value).ok()?;
    let reference = date
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .or(wall)?;
    Some(target.duration_since(reference).unwrap_or(Duration::ZERO))
}

/// Reads `Retry-After` (first value) and `Date` from `headers`.
pub fn retry_after_from_headers(headers: &HeaderMap, wall: Option<SystemTime>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let date = headers.get(DATE).and_then(|d| d.to_str().ok());
    parse_retry_after(value, date, wall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_retry_after("0", None, None), secs(0));
        assert_eq!(parse_retry_after("30", None, None), secs(30));
        assert_eq!(parse_retry_after("\t30\r\n", None, None), secs(30));
        assert_eq!(
            parse_retry_after("18446744073709551615", None, None),
            secs(u64::MAX)
        );
    }

    #[test]
    fn garbage_is_ignored() {
        for v in [
            "",
            " ",
            "soon",
            "-5",
            "+5",
            "1.5",
            "1e3",
            "5s",
            "0x10",
            "٣", // Arabic-Indic digit
            "18446744073709551616",
            "99999999999999999999999999999",
            "Wed, 32 Oct 2026 07:28:00 GMT",
            "Wed, 21 Oct 2026 25:28:00 GMT",
        ] {
            assert_eq!(
                parse_retry_after(v, None, Some(SystemTime::UNIX_EPOCH)),
                None,
                "{v:?}"
            );
        }
    }

    #[test]
    fn three_date_forms_against_the_date_header() {
        let date = Some("Sun, 06 Nov 1994 08:49:00 GMT");
        for v in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(v, date, None), secs(37), "{v:?}");
        }
    }

    #[test]
    fn date_falls_back_to_wall_time_and_past_is_zero() {
        let wall = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").ok();
        let v = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(v, None, wall), secs(7));
        assert_eq!(parse_retry_after(v, Some("not a date"), wall), secs(7));
        assert_eq!(parse_retry_after(v, None, None), None);
        let later = "Sun, 06 Nov 1994 09:00:00 GMT";
        assert_eq!(parse_retry_after(v, Some(later), None), secs(0));
    }

    #[test]
    fn first_header_value_only() {
        let mut h = HeaderMap::new();
        h.append(RETRY_AFTER, HeaderValue::from_static("4"));
        h.append(RETRY_AFTER, HeaderValue::from_static("9"));
        assert_eq!(retry_after_from_headers(&h, None), secs(4));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(retry_after_from_headers(&h, None), None);
    }
}
