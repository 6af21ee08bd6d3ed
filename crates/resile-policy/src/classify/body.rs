//! Reading an error body: which dialect, and what the envelope says.
//!
//! The HTTP status is the one signal every service sends reliably; the body may only
//! refine it. So reading is forgiving: no member is required, unknown members are
//! ignored, members of the wrong JSON type count as absent, and nothing here fails.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Dialect;

/// One entry of the envelope's `fields`: an input that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field<'a> {
    /// The parameter name (`body` means the whole payload was rejected).
    pub name: Option<Cow<'a, str>>,
    /// Why it was rejected.
    pub message: Option<Cow<'a, str>>,
}

impl Field<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> Field<'static> {
        Field {
            name: self.name.map(|s| Cow::Owned(s.into_owned())),
            message: self.message.map(|s| Cow::Owned(s.into_owned())),
        }
    }
}

/// What a body says, whatever its dialect.
#[derive(Debug, Clone, Default)]
pub(crate) struct Body<'a> {
    pub(crate) dialect: Option<Dialect>,
    pub(crate) error_type: Option<Cow<'a, str>>,
    pub(crate) code: Option<u16>,
    pub(crate) message: Option<Cow<'a, str>>,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) request_id: Option<Cow<'a, str>>,
    pub(crate) token: Option<&'a str>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads `prefix` (the first bytes of the body). `html` is true when the response
/// said `Content-Type: text/html`.
#[inline]
pub(crate) fn read(prefix: &[u8], html: bool) -> Body<'_> {
    let bytes = prefix.strip_prefix(BOM).unwrap_or(prefix).trim_ascii();
    let dialect = |d| Body {
        dialect: Some(d),
        ..Body::default()
    };
    if bytes.is_empty() {
        return dialect(Dialect::Empty);
    }
    if html || bytes[0] == b'<' {
        return dialect(Dialect::Html);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return dialect(Dialect::Text);
    };
    if let Some(token) = plain_token(text) {
        return Body {
            token: Some(token),
            ..dialect(Dialect::PlainToken)
        };
    }
    if bytes[0] == b'{' {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(mut body) = de.deserialize_map(EnvelopeVisitor)
            && de.end().is_ok()
        {
            body.dialect = Some(Dialect::Json);
            return body;
        }
    }
    dialect(Dialect::Text)
}

/// A Connect token: 1 to 64 of `A-Z 0-9 _`, after trimming whitespace and at most one
/// pair of enclosing double quotes.
fn plain_token(text: &str) -> Option<&str> {
    let t = text.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t);
    let ok = (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(t)
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
        let mut body = Body::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "type" => body.error_type = map.next_value::<MaybeStr<'de>>()?.0,
                "message" => body.message = map.next_value::<MaybeStr<'de>>()?.0,
                "request_id" => {
                    body.request_id = map
                        .next_value::<MaybeStr<'de>>()?
                        .0
                        .filter(|s| !s.is_empty());
                }
                "code" => body.code = map.next_value::<Code>()?.0,
                "fields" => body.fields = map.next_value::<Fields<'de>>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// A JSON value that counts only when it is a string.
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Loose(|v: Scalar<'de>| match v {
            Scalar::Str(s) => Some(s),
            _ => None,
        }))
        .map(MaybeStr)
    }
}

/// `code`: a number, or a string of digits with optional surrounding spaces.
struct Code(Option<u16>);

impl<'de> de::Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Loose(|v: Scalar<'de>| match v {
            Scalar::Int(n) => u16::try_from(n).ok(),
            Scalar::Str(s) => {
                let s = s.trim();
                (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse().ok())
                    .flatten()
            }
            Scalar::Other => None,
        }))
        .map(Code)
    }
}

/// `fields`: an array of objects, a single object, or anything else (none).
struct Fields<'a>(Vec<Field<'a>>);

impl<'de> de::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("fields")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fields<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element::<Entry<'de>>()? {
                    out.extend(entry.0);
                }
                Ok(Fields(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fields<'de>, A::Error> {
                Ok(Fields(vec![field_from_map(map)?]))
            }
            fn visit_unit<E>(self) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Fields<'de>, E> {
                Ok(Fields(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One array element of `fields`: an object gives an entry, anything else none.
struct Entry<'a>(Option<Field<'a>>);

impl<'de> de::Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Entry<'de>, A::Error> {
                Ok(Entry(Some(field_from_map(map)?)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entry(None))
            }
            fn visit_unit<E>(self) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Entry<'de>, E> {
                Ok(Entry(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn field_from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Field<'de>, A::Error> {
    let mut field = Field::default();
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        match &*key {
            "name" => field.name = map.next_value::<MaybeStr<'de>>()?.0,
            "message" => field.message = map.next_value::<MaybeStr<'de>>()?.0,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(field)
}

/// A JSON scalar as the loose readers above see it.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i128),
    Other,
}

/// Accepts any JSON value, hands scalars to `F`, and skips containers.
struct Loose<F>(F);

impl<'de, T, F: FnOnce(Scalar<'de>) -> Option<T>> Visitor<'de> for Loose<F> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Str(Cow::Owned(v))))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Int(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Int(v.into())))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_unit<E>(self) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_none<E>(self) -> Result<Option<T>, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects() {
        assert_eq!(read(b"", false).dialect, Some(Dialect::Empty));
        assert_eq!(read(b" \r\n\t ", false).dialect, Some(Dialect::Empty));
        assert_eq!(read(b"\xEF\xBB\xBF  ", false).dialect, Some(Dialect::Empty));
        assert_eq!(read(b"<html>", false).dialect, Some(Dialect::Html));
        assert_eq!(read(b"Bad Gateway", true).dialect, Some(Dialect::Html));
        assert_eq!(read(b"Forbidden", false).dialect, Some(Dialect::Text));
        assert_eq!(read(b"[1,2]", false).dialect, Some(Dialect::Text));
        assert_eq!(read(b"42", false).dialect, Some(Dialect::PlainToken)); // digits are a token
        assert_eq!(read(b"\xff\xfe{", false).dialect, Some(Dialect::Text));
        assert_eq!(read(b"{\"type\":\"x\"", false).dialect, Some(Dialect::Text)); // cut short
        assert_eq!(read(b"{} trailing", false).dialect, Some(Dialect::Text));
        assert_eq!(read(b"{}", false).dialect, Some(Dialect::Json));
    }

    #[test]
    fn tokens() {
        let t = |b: &'static [u8]| read(b, false).token;
        assert_eq!(t(b"QUEUE_IS_FULL"), Some("QUEUE_IS_FULL"));
        assert_eq!(t(b"  MALFORMED_ASYNC_ID\n"), Some("MALFORMED_ASYNC_ID"));
        assert_eq!(t(b"\"DEVICE_NOT_CONNECTED\""), Some("DEVICE_NOT_CONNECTED"));
        assert_eq!(t(b"\"\"X\"\""), None); // only one pair of quotes
        assert_eq!(t(b"queue_is_full"), None);
        assert_eq!(t(b"QUEUE IS FULL"), None);
        assert_eq!(t(&[b'A'; 64]), Some("A".repeat(64).leak() as &str));
        assert_eq!(t(&[b'A'; 65]), None);
    }

    #[test]
    fn envelope_tolerance() {
        let b = read(
            br#"{"object":"error","code":" 400 ","type":"validation_error","message":"m",
                "fields":[{"name":"a","message":"x"},7,{"name":"b"}],"request_id":"r1","extra":{"k":[1]}}"#,
            false,
        );
        assert_eq!(b.dialect, Some(Dialect::Json));
        assert_eq!(b.code, Some(400));
        assert_eq!(b.error_type.as_deref(), Some("validation_error"));
        assert_eq!(b.message.as_deref(), Some("m"));
        assert_eq!(b.request_id.as_deref(), Some("r1"));
        assert_eq!(b.fields.len(), 2);
        assert_eq!(b.fields[1].name.as_deref(), Some("b"));
        assert_eq!(b.fields[1].message, None);

        let b = read(
            br#"{"code":"4x0","type":7,"fields":{"name":"cert","message":"m"},"request_id":""}"#,
            false,
        );
        assert_eq!((b.code, b.error_type, b.request_id), (None, None, None));
        assert_eq!(b.fields.len(), 1);

        for fields in ["null", "\"x\"", "3", "true", "[]"] {
            let json = format!(r#"{{"fields":{fields},"type":"t"}}"#);
            let b = read(json.as_bytes(), false);
            assert!(b.fields.is_empty(), "{fields}");
            assert_eq!(b.error_type.as_deref(), Some("t"));
        }
        let b = read(br#"{"type":"a\"b","code":70000}"#, false);
        assert_eq!(b.error_type.as_deref(), Some("a\"b"));
        assert_eq!(b.code, None);
    }

    #[test]
    fn borrowed_when_unescaped() {
        let b = read(br#"{"type":"system_unavailable"}"#, false);
        assert!(matches!(b.error_type, Some(Cow::Borrowed(_))));
    }
}
