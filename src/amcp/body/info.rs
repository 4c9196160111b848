//! The `200 INFO OK` channel list: one `<channel> <video-format> <status>` line per channel.

use super::BodyError;

/// One line of the `INFO` channel list, e.g. `1 1080i5000 PLAYING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// 1-based channel number.
    pub channel: u16,
    /// Video format name as the server spells it (`PAL`, `720p5994`, `640x360p2500`).
    pub format: String,
    /// Status word (always `PLAYING` on 2.3-2.5); empty if absent.
    pub status: String,
}

/// Parses one channel-list line.
pub fn parse_info_line(line: &str) -> Result<ChannelInfo, BodyError> {
    let mut tokens = line.split_whitespace();
    let channel = tokens
        .next()
        .ok_or_else(|| BodyError::new("INFO line", line, "empty line"))?;
    let channel = channel.parse().map_err(|_| {
        BodyError::new(
            "INFO line",
            line,
            format!("channel {channel:?} is not a number"),
        )
    })?;
    let format = tokens
        .next()
        .ok_or_else(|| BodyError::new("INFO line", line, "missing video format"))?
        .to_owned();
    Ok(ChannelInfo {
        channel,
        format,
        status: tokens.collect::<Vec<_>>().join(" "),
    })
}

/// Parses the data lines of `200 INFO OK`.
pub fn parse_info_list(lines: &[String]) -> Result<Vec<ChannelInfo>, BodyError> {
    lines.iter().map(|line| parse_info_line(line)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_list() {
        let lines: Vec<String> = [
            "1 1080i5000 PLAYING",
            "2 720p5994 PLAYING",
            "3 PAL PLAYING",
            "12 640x360p2500 PLAYING",
        ]
        .map(String::from)
        .to_vec();
        let list = parse_info_list(&lines).unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(
            list[0],
            ChannelInfo {
                channel: 1,
                format: "1080i5000".into(),
                status: "PLAYING".into()
            }
        );
        assert_eq!(list[2].format, "PAL");
        assert_eq!(list[3].channel, 12);
        assert_eq!(list[3].format, "640x360p2500");
        assert!(parse_info_list(&[]).unwrap().is_empty());
    }

    #[test]
    fn tolerates_missing_status_and_rejects_garbage() {
        assert_eq!(parse_info_line("1 PAL").unwrap().status, "");
        for bad in ["", "PLAYING", "x PAL PLAYING", "70000 PAL PLAYING", "1"] {
            assert!(parse_info_line(bad).is_err(), "{bad:?}");
        }
    }
}
