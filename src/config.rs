//! Daemon configuration: TOML file, `ONAIR_*` environment variables and flags, validated.
