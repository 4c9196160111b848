//! The daylight-saving and channel-day rules, on zones from jiff's bundled database (never the
//! machine's, so the tests mean the same everywhere).

use super::*;
use jiff::civil::{date, time};
use jiff::tz::TimeZoneDatabase;
use proptest::prelude::*;

fn zone(name: &str) -> TimeZone {
    TimeZoneDatabase::bundled()
        .get(name)
        .expect("zone in the bundled database")
}

fn utc(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

fn tod(text: &str) -> TimeOfDay {
    TimeOfDay::parse(text).expect("a time of day")
}

fn local(tz: &TimeZone, d: Date, t: &str) -> Timestamp {
    resolve_local(tz, d.to_datetime(tod(t).time())).expect("in range")
}

#[test]
fn a_time_in_the_spring_gap_is_the_instant_the_gap_ends() {
    let berlin = zone("Europe/Berlin");
    let day = date(2025, 3, 30);
    assert_eq!(local(&berlin, day, "01:59:59"), utc("2025-03-30T00:59:59Z"));
    for inside in [
        "02:00:00",
        "02:00:00.001",
        "02:30:00",
        "02:59:59.999",
        "03:00:00",
    ] {
        assert_eq!(
            local(&berlin, day, inside),
            utc("2025-03-30T01:00:00Z"),
            "{inside}"
        );
    }
    // Not jiff's "compatible" choice, which shifts by the gap's length (an hour late at 02:30).
    let compatible = berlin
        .to_ambiguous_timestamp(day.at(2, 30, 0, 0))
        .compatible();
    assert_eq!(compatible.ok(), Some(utc("2025-03-30T01:30:00Z")));

    let new_york = zone("America/New_York");
    let day = date(2025, 3, 9);
    assert_eq!(
        local(&new_york, day, "02:30:00"),
        utc("2025-03-09T07:00:00Z")
    );
    assert_eq!(
        local(&new_york, day, "03:00:00"),
        utc("2025-03-09T07:00:00Z")
    );
    assert_eq!(
        local(&new_york, day, "01:59:59"),
        utc("2025-03-09T06:59:59Z")
    );
}

#[test]
fn an_ambiguous_time_is_its_first_occurrence() {
    let berlin = zone("Europe/Berlin");
    let day = date(2025, 10, 26);
    // 02:00–02:59:59 happen twice: first in CEST (+02), then in CET (+01).
    assert_eq!(local(&berlin, day, "02:30:00"), utc("2025-10-26T00:30:00Z"));
    assert_eq!(local(&berlin, day, "02:00:00"), utc("2025-10-26T00:00:00Z"));
    assert_eq!(local(&berlin, day, "03:00:00"), utc("2025-10-26T02:00:00Z"));

    let new_york = zone("America/New_York");
    let day = date(2025, 11, 2);
    assert_eq!(
        local(&new_york, day, "01:30:00"),
        utc("2025-11-02T05:30:00Z")
    );
    assert_eq!(
        local(&new_york, day, "02:00:00"),
        utc("2025-11-02T07:00:00Z")
    );
}

#[test]
fn days_last_23_or_25_hours_across_a_change() {
    let hours = |s: &Station, d: Date| s.day_length(d).expect("in range").as_secs() / 3600;
    let berlin = Station::new(zone("Europe/Berlin"), time(6, 0, 0, 0));
    // The day that contains the change (its night runs to 06:00 of the next date) is the odd one.
    assert_eq!(hours(&berlin, date(2025, 3, 28)), 24);
    assert_eq!(hours(&berlin, date(2025, 3, 29)), 23);
    assert_eq!(hours(&berlin, date(2025, 3, 30)), 24);
    assert_eq!(hours(&berlin, date(2025, 10, 25)), 25);
    let new_york = Station::new(zone("America/New_York"), time(6, 0, 0, 0));
    assert_eq!(hours(&new_york, date(2025, 3, 8)), 23);
    assert_eq!(hours(&new_york, date(2025, 11, 1)), 25);
    assert_eq!(hours(&new_york, date(2025, 11, 2)), 24);
    // With a midnight day start the calendar day itself is the odd one.
    let midnight = Station::new(zone("Europe/Berlin"), Time::midnight());
    assert_eq!(hours(&midnight, date(2025, 3, 30)), 23);
    assert_eq!(hours(&midnight, date(2025, 10, 26)), 25);
}

#[test]
fn a_day_start_inside_the_gap_follows_the_gap_rule() {
    let s = Station::new(zone("Europe/Berlin"), time(2, 30, 0, 0));
    // 02:30 does not exist on 30 March 2025: the day starts when the gap ends, 03:00 CEST.
    assert_eq!(
        s.day_start_of(date(2025, 3, 30)),
        Ok(utc("2025-03-30T01:00:00Z"))
    );
    assert_eq!(
        s.day_start_of(date(2025, 3, 29)),
        Ok(utc("2025-03-29T01:30:00Z"))
    );
    assert_eq!(
        s.day_start_of(date(2025, 3, 31)),
        Ok(utc("2025-03-31T00:30:00Z"))
    );
    // Both days touching the shortened night lose half an hour each.
    let minutes = |d| s.day_length(d).expect("in range").as_secs() / 60;
    assert_eq!(minutes(date(2025, 3, 29)), 23 * 60 + 30);
    assert_eq!(minutes(date(2025, 3, 30)), 23 * 60 + 30);
    assert_eq!(
        s.air_date_of(utc("2025-03-30T00:59:59Z")),
        Ok(date(2025, 3, 29))
    );
    assert_eq!(
        s.air_date_of(utc("2025-03-30T01:00:00Z")),
        Ok(date(2025, 3, 30))
    );
    assert_eq!(
        s.next_day_start(utc("2025-03-29T12:00:00Z")),
        Ok(utc("2025-03-30T01:00:00Z"))
    );
    // In the autumn overlap the day starts at the first 02:30, and that day is 25 hours long.
    assert_eq!(
        s.day_start_of(date(2025, 10, 26)),
        Ok(utc("2025-10-26T00:30:00Z"))
    );
    assert_eq!(minutes(date(2025, 10, 26)), 25 * 60);
    // The second 02:30 is within the day, not the start of another.
    assert_eq!(
        s.air_date_of(utc("2025-10-26T01:30:00Z")),
        Ok(date(2025, 10, 26))
    );
}

#[test]
fn a_time_before_day_start_belongs_to_the_next_calendar_day() {
    let s = Station::new(zone("Europe/Berlin"), time(6, 0, 0, 0));
    let air = date(2025, 3, 29);
    assert_eq!(s.calendar_date(air, tod("06:00:00")), Ok(air));
    assert_eq!(s.calendar_date(air, tod("23:59:59.999")), Ok(air));
    assert_eq!(
        s.calendar_date(air, tod("05:59:59.999")),
        Ok(date(2025, 3, 30))
    );
    // 02:30 of the 29th's rundown is the night to the 30th: in the gap, so 03:00 CEST.
    assert_eq!(
        s.resolve(air, tod("02:30:00")),
        Ok(utc("2025-03-30T01:00:00Z"))
    );
    assert_eq!(
        s.resolve(air, tod("18:00:00")),
        Ok(utc("2025-03-29T17:00:00Z"))
    );
    assert_eq!(s.air_date_of(utc("2025-03-30T03:59:59Z")), Ok(air));
    assert_eq!(
        s.air_date_of(utc("2025-03-30T04:00:00Z")),
        Ok(date(2025, 3, 30))
    );
    // Midnight day start: every time of day is on the air date itself.
    let midnight = Station::new(zone("America/New_York"), Time::midnight());
    assert_eq!(midnight.calendar_date(air, TimeOfDay::MIDNIGHT), Ok(air));
}

#[test]
fn far_dates_are_errors_not_panics() {
    let s = Station::new(zone("Europe/Berlin"), time(6, 0, 0, 0));
    assert!(s.resolve(date(9999, 12, 31), tod("05:00:00")).is_err());
    assert!(s.day_length(date(9999, 12, 31)).is_err());
    assert!(to_nanos(utc("2300-01-01T00:00:00Z")).is_err());
    assert_eq!(to_nanos(utc("1970-01-01T00:00:01Z")), Ok(1_000_000_000));
    assert_eq!(from_nanos(1_500_000_000), utc("1970-01-01T00:00:01.5Z"));
}

proptest! {
    /// Every instant lies in exactly one channel day, for gap, overlap and ordinary day starts.
    #[test]
    fn every_instant_lies_in_its_channel_day(
        secs in 1_704_067_200i64..1_798_761_600, // 2024-01-01 .. 2027-01-01
        zone_index in 0usize..4,
        start in prop::sample::select(vec![(0, 0), (2, 30), (6, 0), (1, 30), (23, 59)]),
    ) {
        let names = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"];
        let s = Station::new(zone(names[zone_index]), time(start.0, start.1, 0, 0));
        let t = Timestamp::from_second(secs).expect("in range");
        let day = s.air_date_of(t).expect("in range");
        let begin = s.day_start_of(day).expect("in range");
        let end = s.next_day_start(t).expect("in range");
        prop_assert!(begin <= t && t < end, "{begin} <= {t} < {end}");
        let hours = end.duration_since(begin).as_secs_f64() / 3600.0;
        prop_assert!((22.5..=25.5).contains(&hours), "{hours}");
    }
}
