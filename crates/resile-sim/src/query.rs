//! Percent-decoding of path segments and query strings, forgiving by design: a bad
//! escape stays as written and invalid UTF-8 becomes U+FFFD, so no input can fail.

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`).
pub(crate) fn decode(raw: &str, plus_is_space: bool) -> String {
    if !raw.contains(['%', '+']) {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded value of the first `name=` parameter in `query`, if any
/// (`name` alone gives an empty value).
pub(crate) fn param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key, true) == name).then(|| decode(value, true))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_bad_ones() {
        assert_eq!(decode("abc", false), "abc");
        assert_eq!(decode("a%2Fb%20c", false), "a/b c");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("a+b", true), "a b");
        assert_eq!(decode("%", false), "%");
        assert_eq!(decode("%4", false), "%4");
        assert_eq!(decode("%zz%41", false), "%zzA");
        assert_eq!(decode("%ff", false), "\u{fffd}");
    }

    #[test]
    fn finds_the_first_parameter() {
        let q = Some("limit=10&after=x%20y&limit=3&flag");
        assert_eq!(param(q, "limit").as_deref(), Some("10"));
        assert_eq!(param(q, "after").as_deref(), Some("x y"));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(param(None, "limit"), None);
        assert_eq!(param(Some(""), "limit"), None);
    }
}
