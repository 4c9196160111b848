//! Channel and channel-layer addresses (`1`, `1-10`), validated, with text and serde forms.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The highest channel number accepted; the server has no hard limit, real systems have a handful.
pub const MAX_CHANNEL: u16 = 9999;

/// A channel (1-based) and optional layer, written `1` or `1-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelLayer {
    pub channel: u16,
    /// Layer, always non-negative.
    pub layer: Option<i32>,
}

/// Why a channel-layer text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid channel-layer {input:?}: {reason} (expected e.g. 1 or 1-10)")]
pub struct ParseChannelLayerError {
    pub input: String,
    pub reason: &'static str,
}

impl ChannelLayer {
    /// A channel-layer; `None` if the channel is 0 or above [`MAX_CHANNEL`] or the layer is negative
    /// (the server cannot parse `1--5`).
    pub fn new(channel: u16, layer: i32) -> Option<Self> {
        (valid_channel(channel) && layer >= 0).then_some(ChannelLayer {
            channel,
            layer: Some(layer),
        })
    }

    /// A whole channel; `None` if the channel is 0 or above [`MAX_CHANNEL`].
    pub fn channel(channel: u16) -> Option<Self> {
        valid_channel(channel).then_some(ChannelLayer {
            channel,
            layer: None,
        })
    }
}

fn valid_channel(channel: u16) -> bool {
    (1..=MAX_CHANNEL).contains(&channel)
}

impl fmt::Display for ChannelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some(layer) => write!(f, "{}-{}", self.channel, layer),
            None => write!(f, "{}", self.channel),
        }
    }
}

impl FromStr for ChannelLayer {
    type Err = ParseChannelLayerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseChannelLayerError {
            input: s.to_owned(),
            reason,
        };
        // The server splits on every '-' and casts each part, so negative layers cannot be addressed.
        let (ch, layer) = match s.split_once('-') {
            Some((ch, layer)) => (ch, Some(layer)),
            None => (s, None),
        };
        if ch.is_empty() || !ch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("channel must be a number"));
        }
        let channel: u16 = ch.parse().map_err(|_| err("channel out of range"))?;
        if !valid_channel(channel) {
            return Err(err("channel must be between 1 and 9999"));
        }
        let layer = match layer {
            None => None,
            Some(l) if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(err("layer must be a non-negative integer"));
            }
            Some(l) => Some(l.parse::<i32>().map_err(|_| err("layer out of range"))?),
        };
        Ok(ChannelLayer { channel, layer })
    }
}

impl serde::Serialize for ChannelLayer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ChannelLayer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A string like `"1-10"`, as serialized above (the WebSocket protocol's schema needs to say so).
impl schemars::JsonSchema for ChannelLayer {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ChannelLayer".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "CHANNEL or CHANNEL-LAYER, e.g. \"1-10\"; channel 1 to 9999, layer 0 or more",
            "pattern": "^0*[1-9][0-9]{0,3}(-[0-9]+)?$",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["1", "1-10", "12-0", "9999-1", "1-2147483647"] {
            let cl: ChannelLayer = s.parse().unwrap();
            assert_eq!(cl.to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        for s in [
            "",
            "0",
            "0-10",
            "a-1",
            "1-",
            "1-x",
            "10000",
            "-1",
            "1-10-2",
            "+1",
            " 1",
            "2--5",
            "1-2147483648",
        ] {
            assert!(
                s.parse::<ChannelLayer>().is_err(),
                "{s:?} should be rejected"
            );
        }
        assert_eq!(ChannelLayer::new(0, 10), None);
        assert_eq!(ChannelLayer::new(1, -1), None);
    }

    #[test]
    fn serde_uses_text_form() {
        let cl = ChannelLayer::new(1, 10).unwrap();
        assert_eq!(serde_json::to_string(&cl).unwrap(), "\"1-10\"");
        let back: ChannelLayer = serde_json::from_str("\"1-10\"").unwrap();
        assert_eq!(back, cl);
        assert!(serde_json::from_str::<ChannelLayer>("\"0-1\"").is_err());
    }
}
