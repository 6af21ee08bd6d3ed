//! Durations in configuration files: `"250ms"`, `"10s"`, `"2m"`, `"1h"`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration written with a unit: `ms`, `s`, `m` or `h` (`"250ms"`, `"1.5s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Parses `"250ms"`, `"10s"`, `"1.5s"`, `"2m"`, `"1h"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?} has no unit: write e.g. \"250ms\" or \"10s\""))?;
        let (number, unit) = t.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a number followed by a unit"))?;
        let scale = match unit.trim() {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}: use ms, s, m or h"
                ));
            }
        };
        Duration::try_from_secs_f64(value * scale)
            .map(Self)
            .map_err(|_| format!("{text:?} is out of range"))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"250ms\" or \"10s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigDuration, E> {
                ConfigDuration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

/// A duration or `"none"` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

impl<'de> Deserialize<'de> for OptionalDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "none" {
            return Ok(Self(None));
        }
        ConfigDuration::parse(&text)
            .map(|c| Self(Some(c.0)))
            .map_err(de::Error::custom)
    }
}

impl Serialize for OptionalDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => ConfigDuration(d).serialize(s),
            None => s.serialize_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_the_rest() {
        let d = |t| ConfigDuration::parse(t).map(|c| c.0);
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d(" 10s "), Ok(Duration::from_secs(10)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["10", "", "s", "10 parsecs", "-1s", "1e999s", "1..2s"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }
}
