//! Durations in scenario files: `90s`, `5m`, `2h`, `1h30m`, or a bare number of seconds.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A whole number of seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secs(pub u64);

impl Secs {
    pub const fn minutes(m: u64) -> Secs {
        Secs(m * 60)
    }
}

/// Parses `90s`, `5m`, `2h`, `1d`, `1h30m` or `90` (seconds).
pub fn parse(s: &str) -> Option<Secs> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(Secs(n));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            ' ' if number.is_empty() => continue,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    number.is_empty().then_some(Secs(total))
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        match (h, m, s) {
            (0, 0, s) => write!(f, "{s}s"),
            (0, m, 0) => write!(f, "{m}m"),
            (0, m, s) => write!(f, "{m}m{s}s"),
            (h, 0, 0) => write!(f, "{h}h"),
            (h, m, 0) => write!(f, "{h}h{m}m"),
            (h, m, s) => write!(f, "{h}h{m}m{s}s"),
        }
    }
}

/// A clock time `HH:MM:SS` for timelines.
pub fn clock(t: u64) -> String {
    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 90s, 5m, 2h, 1h30m, or a number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secs, E> {
                Ok(Secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secs, E> {
                u64::try_from(v)
                    .map(Secs)
                    .map_err(|_| E::custom(format!("a duration cannot be negative: {v}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secs, E> {
                parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "invalid duration {v:?} (expected e.g. 90s, 5m, 2h, 1h30m, or seconds)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse("90"), Some(Secs(90)));
        assert_eq!(parse("90s"), Some(Secs(90)));
        assert_eq!(parse("5m"), Some(Secs(300)));
        assert_eq!(parse("1h30m"), Some(Secs(5400)));
        assert_eq!(parse("1d"), Some(Secs(86_400)));
        assert_eq!(parse("5x"), None);
        assert_eq!(parse("m"), None);
        assert_eq!(parse("5m3"), None);
        assert_eq!(Secs(5400).to_string(), "1h30m");
        assert_eq!(clock(3661), "01:01:01");
    }
}
