//! The planner's rules, one by one, at 25 fps (a frame is 40 ms) unless said otherwise.

use super::plan::plan_into;
use super::*;

const SEC: i64 = NANOS_PER_SEC;
const CLOCK: FrameClock = FrameClock {
    anchor: 0,
    rate: FrameRate::FPS_25,
};

fn follow(frames: u64) -> Entry<'static> {
    Entry {
        id: "f",
        frames: Some(frames),
        overlap: 0,
        start: Start::Follow,
    }
}

fn hard(frames: u64, at_secs: i64) -> Entry<'static> {
    Entry {
        start: Start::Hard(at_secs * SEC),
        ..follow(frames)
    }
}

fn soft(frames: u64, at_secs: i64) -> Entry<'static> {
    Entry {
        start: Start::Soft(at_secs * SEC),
        ..follow(frames)
    }
}

fn unknown() -> Entry<'static> {
    Entry {
        frames: None,
        ..follow(0)
    }
}

fn input<'a>(entries: &'a [Entry<'a>], on_air: Option<(usize, i64)>, now_secs: i64) -> Input<'a> {
    Input {
        entries,
        position: on_air.map_or(Position::Waiting { next: 0 }, |(index, s)| {
            Position::OnAir {
                index,
                started: s * SEC,
            }
        }),
        now: now_secs * SEC,
        horizon: now_secs * SEC,
        clock: CLOCK,
        filler: None,
        end: EndPolicy::Filler,
    }
}

fn starts(p: &Plan) -> Vec<Option<i64>> {
    p.items.iter().map(|i| i.start).collect()
}

#[test]
fn follow_items_chain_from_the_item_on_air_and_stop_at_an_unknown_length() {
    let rundown = [follow(250), follow(100), unknown(), follow(50)];
    let p = plan(&input(&rundown, Some((0, 0)), 2));
    assert_eq!(starts(&p), [Some(0), Some(250), Some(350), None]);
    let states: Vec<State> = p.items.iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [State::OnAir, State::Planned, State::Planned, State::Unknown]
    );
    assert_eq!(
        (p.items[1].end, p.items[2].end, p.end),
        (Some(350), None, None)
    );
    assert!(p.gaps.is_empty() && p.next_fixed.is_none());
}

#[test]
fn a_transition_starts_the_next_item_early_but_never_before_the_previous_one() {
    let mut next = follow(100);
    next.overlap = 25;
    let mut long_mix = follow(100);
    long_mix.overlap = 1_000;
    let rundown = [follow(250), next, long_mix];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(starts(&p), [Some(0), Some(225), Some(225)]);
}

#[test]
fn items_before_the_one_on_air_are_past() {
    let rundown = [follow(10), follow(10), follow(10)];
    let p = plan(&input(&rundown, Some((1, 0)), 0));
    assert_eq!(p.items[0].state, State::Past);
    assert_eq!(starts(&p), [None, Some(0), Some(10)]);
}

#[test]
fn a_hard_start_cuts_the_item_on_air_and_says_how_much_is_lost() {
    let rundown = [follow(1_000), hard(200, 20)];
    let p = plan(&input(&rundown, Some((0, 0)), 1));
    assert_eq!(starts(&p), [Some(0), Some(500)]);
    assert_eq!(
        p.items[0].cut,
        Some(Cut {
            at: 500,
            lost: Some(500)
        })
    );
    assert_eq!(p.items[0].end, Some(500));
    let fixed = p.items[1].fixed.expect("fixed");
    assert_eq!(
        (fixed.hard, fixed.due, fixed.slack, fixed.delay),
        (true, 500, Some(-500), Some(0))
    );
    assert!(p.gaps.is_empty());
    assert_eq!(p.next_fixed.map(|n| (n.index, n.countdown)), Some((1, 475)));
    assert_eq!(p.countdown_nanos(SEC), Some(19 * SEC));
}

#[test]
fn a_short_rundown_before_a_hard_start_is_filled_with_the_last_filler_trimmed() {
    let clips = [100, 60];
    let rundown = [follow(250), hard(100, 20)];
    let mut inp = input(&rundown, Some((0, 0)), 0);
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::InOrder,
        next: 0,
    });
    inp.horizon = 24 * SEC;
    let p = plan(&inp);
    assert_eq!(p.items[1].start, Some(500));
    assert_eq!(p.items[1].fixed.and_then(|f| f.slack), Some(250));
    assert_eq!(p.gaps.len(), 1, "the rundown ends at the horizon: no tail");
    let gap = p.gaps[0];
    assert_eq!(
        (gap.start, gap.frames, gap.before, gap.fill),
        (250, 250, Some(1), GapFill::Filler)
    );
    let plays: Vec<(usize, i64, u64, bool)> = p
        .fillers
        .iter()
        .map(|f| (f.clip, f.start, f.frames, f.trimmed))
        .collect();
    assert_eq!(
        plays,
        [
            (0, 250, 100, false),
            (1, 350, 60, false),
            (0, 410, 90, true)
        ]
    );
    assert_eq!((gap.fillers, p.next_filler), ((0, 3), 3));
    assert_eq!(p.unfilled().count(), 0);
}

#[test]
fn without_filler_a_gap_is_reported_with_its_start_and_length() {
    let rundown = [follow(250), hard(100, 20)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    let gaps: Vec<&Gap> = p.unfilled().collect();
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].start, gaps[0].frames), (250, 250));
    assert_eq!(p.instant(gaps[0].start), 10 * SEC);
}

#[test]
fn a_soft_start_waits_for_the_previous_item_or_its_time() {
    let rundown = [follow(1_000), soft(100, 20), soft(100, 60)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(starts(&p), [Some(0), Some(1_000), Some(1_500)]);
    assert_eq!(p.items[0].cut, None, "a soft start never cuts");
    let late = p.items[1].fixed.expect("fixed");
    assert_eq!((late.slack, late.delay), (Some(-500), Some(500)));
    let early = p.items[2].fixed.expect("fixed");
    assert_eq!((early.slack, early.delay), (Some(400), Some(0)));
    assert_eq!(p.gaps.len(), 1);
    assert_eq!((p.gaps[0].start, p.gaps[0].frames), (1_100, 400));
}

#[test]
fn a_hard_start_makes_the_timeline_known_again_after_an_unknown_length() {
    let rundown = [
        follow(100),
        unknown(),
        follow(50),
        hard(100, 60),
        follow(10),
    ];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(
        starts(&p),
        [Some(0), Some(100), None, Some(1_500), Some(1_600)]
    );
    assert_eq!(
        p.items[2].cut,
        Some(Cut {
            at: 1_500,
            lost: None
        })
    );
    assert_eq!(p.items[3].fixed.and_then(|f| f.slack), None);
    assert!(p.gaps.is_empty(), "an unknown gap is not reported");
    assert_eq!(p.end, Some(1_610));
}

#[test]
fn a_hard_time_that_passed_starts_now() {
    let rundown = [follow(1_000), hard(100, 10)];
    let p = plan(&input(&rundown, Some((0, 0)), 12));
    assert_eq!(p.items[1].start, Some(300));
    assert_eq!(p.items[1].fixed.and_then(|f| f.delay), Some(50));
    assert_eq!(
        p.items[0].cut,
        Some(Cut {
            at: 300,
            lost: Some(700)
        })
    );
    assert_eq!(p.next_fixed.map(|n| n.countdown), Some(0));
}

#[test]
fn a_hard_start_cuts_across_items_that_would_start_after_it() {
    // 40 s on air, then 4 s and a soft start at 30 s, then the news hard at 20 s.
    let rundown = [follow(1_000), follow(100), soft(100, 30), hard(250, 20)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(starts(&p), [Some(0), None, None, Some(500)]);
    assert_eq!(
        p.items[0].cut,
        Some(Cut {
            at: 500,
            lost: Some(500)
        })
    );
    for k in [1, 2] {
        assert_eq!(p.items[k].state, State::Skipped, "item {k}");
        assert_eq!(
            p.items[k].cut,
            Some(Cut {
                at: 500,
                lost: Some(100)
            })
        );
    }
    assert_eq!(p.next_fixed.map(|n| n.index), Some(3));
    assert_eq!(p.items[3].fixed.and_then(|f| f.slack), Some(-500));
    assert_eq!(p.end, Some(750));
}

#[test]
fn a_gap_a_hard_start_takes_away_gives_its_filler_back() {
    let clips = [100];
    // 10 s on air, a soft start at 30 s (a 20 s gap, filled), then a hard start at 20 s.
    let rundown = [follow(250), soft(100, 30), hard(100, 20)];
    let mut inp = input(&rundown, Some((0, 0)), 0);
    inp.horizon = 60 * SEC;
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::InOrder,
        next: 7,
    });
    let p = plan(&inp);
    assert_eq!(p.items[1].state, State::Skipped);
    assert_eq!(p.gaps[0].before, Some(2));
    assert_eq!((p.gaps[0].start, p.gaps[0].frames), (250, 250));
    let plays: Vec<u64> = p.fillers.iter().map(|f| f.seq).collect();
    assert_eq!(plays[..3], [7, 8, 9], "the filler goes on where it was");
}

#[test]
fn hard_times_out_of_order_never_go_back_in_time() {
    let rundown = [follow(100), hard(100, 40), hard(100, 30)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(starts(&p), [Some(0), Some(1_000), Some(1_000)]);
    assert_eq!(
        p.items[1].cut,
        Some(Cut {
            at: 1_000,
            lost: Some(100)
        })
    );
    assert_eq!(p.items[2].fixed.and_then(|f| f.delay), Some(250));
}

#[test]
fn with_nothing_on_air_planning_starts_at_the_first_fixed_time() {
    let clips = [1_000];
    let rundown = [follow(10), follow(10), soft(100, 20), follow(50)];
    let mut inp = input(&rundown, None, 4);
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::InOrder,
        next: 5,
    });
    inp.horizon = 20 * SEC;
    let p = plan(&inp);
    assert_eq!(starts(&p), [None, None, Some(500), Some(600)]);
    assert_eq!(p.items[0].state, State::NotScheduled);
    assert_eq!((p.gaps[0].start, p.gaps[0].frames), (100, 400));
    assert_eq!(p.fillers[0].seq, 5);
    assert_eq!(p.next_fixed.map(|n| n.index), Some(2));
}

#[test]
fn after_the_rundown_the_end_policy_decides_up_to_the_horizon() {
    let rundown = [follow(100)];
    let clips = [30];
    let mut inp = input(&rundown, Some((0, 0)), 0);
    inp.horizon = 10 * SEC;
    let p = plan(&inp);
    let tail = |p: &Plan| p.gaps.last().map(|g| (g.start, g.frames, g.before, g.fill));
    assert_eq!(tail(&p), Some((100, 150, None, GapFill::Unfilled)));
    inp.end = EndPolicy::Black;
    assert_eq!(tail(&plan(&inp)).map(|t| t.3), Some(GapFill::Black));
    inp.end = EndPolicy::Hold;
    assert_eq!(tail(&plan(&inp)).map(|t| t.3), Some(GapFill::Hold));
    inp.end = EndPolicy::Filler;
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::InOrder,
        next: 0,
    });
    let p = plan(&inp);
    assert_eq!(tail(&p).map(|t| t.3), Some(GapFill::Filler));
    assert_eq!(p.fillers.len(), 5);
    assert_eq!(p.fillers.iter().map(|f| f.frames).sum::<u64>(), 150);
    // Nothing on air and nothing fixed: the whole window is the tail.
    let nothing = [follow(10)];
    let mut idle = input(&nothing, None, 0);
    idle.horizon = 4 * SEC;
    let p = plan(&idle);
    assert_eq!(p.items[0].state, State::NotScheduled);
    assert_eq!(tail(&p), Some((0, 100, None, GapFill::Unfilled)));
    assert_eq!(p.end, None);
}

#[test]
fn filler_plays_are_bounded() {
    let clips = [1];
    let rundown: [Entry<'_>; 0] = [];
    let mut inp = input(&rundown, None, 0);
    inp.horizon = 24 * 3_600 * SEC;
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::InOrder,
        next: 0,
    });
    let p = plan(&inp);
    assert_eq!(p.fillers.len(), timeline::MAX_FILLER_PLAYS);
    assert!(p.fillers_truncated);
}

#[test]
fn at_59_94_a_fixed_item_starts_on_the_frame_containing_its_instant() {
    let clock = FrameClock::new(123_456_789, FrameRate::FPS_59_94);
    let at = 3_600 * SEC + 7; // not on a boundary
    let rundown = [
        follow(10),
        Entry {
            start: Start::Hard(at),
            ..follow(10)
        },
    ];
    let mut inp = input(&rundown, Some((0, 0)), 0);
    inp.clock = clock;
    inp.position = Position::OnAir {
        index: 0,
        started: clock.start_of(0),
    };
    inp.now = clock.start_of(0);
    let p = plan(&inp);
    let start = p.items[1].start.expect("known");
    assert!(p.instant(start) <= at && at < p.instant(start + 1));
    assert_eq!(start, clock.frame_at(at));
}

#[test]
fn replanning_into_the_same_plan_reuses_it_and_agrees() {
    let rundown = [follow(250), hard(100, 20), soft(10, 30), follow(5)];
    let inp = input(&rundown, Some((0, 0)), 0);
    let fresh = plan(&inp);
    let mut reused = plan(&input(&[follow(1); 3], None, 0));
    plan_into(&inp, &mut reused);
    assert_eq!(reused, fresh);
}

#[test]
fn huge_lengths_saturate_instead_of_overflowing() {
    let rundown = [follow(u64::MAX), follow(u64::MAX), hard(1, 10)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(
        p.items[1].state,
        State::Skipped,
        "it would start after the hard start"
    );
    assert_eq!(p.items[2].start, Some(250));
    assert_eq!(p.items[0].cut.and_then(|c| c.lost), Some(i64::MAX - 250));
    let rundown = [follow(u64::MAX), hard(1, 10), follow(u64::MAX), follow(1)];
    let p = plan(&input(&rundown, Some((0, 0)), 0));
    assert_eq!(starts(&p), [Some(0), Some(250), Some(251), Some(i64::MAX)]);
}

#[test]
fn waiting_in_a_gap_resumes_at_the_next_item_not_the_top() {
    let rundown = [follow(100), follow(100), hard(50, 20), follow(10)];
    let mut inp = input(&rundown, None, 8);
    inp.position = Position::Waiting { next: 2 };
    let p = plan(&inp);
    assert_eq!(p.items[0].state, State::Past);
    assert_eq!(starts(&p), [None, None, Some(500), Some(550)]);
    assert_eq!((p.gaps[0].start, p.gaps[0].frames), (200, 300));
    inp.position = Position::Waiting { next: 99 };
    let p = plan(&inp);
    assert!(p.items.iter().all(|i| i.state == State::Past));
}

#[test]
fn extreme_instants_saturate_instead_of_overflowing() {
    let clips = [25];
    let rundown = [follow(10), hard(10, 0)];
    let mut inp = input(&rundown, Some((0, 0)), 0);
    inp.position = Position::OnAir {
        index: 0,
        started: i64::MIN,
    };
    inp.now = i64::MIN;
    inp.horizon = i64::MIN + 2 * SEC;
    inp.filler = Some(Filler {
        clips: &clips,
        order: FillerOrder::Shuffle { seed: 1 },
        next: u64::MAX,
    });
    let p = plan(&inp);
    assert!(p.items[1].start.is_some());
    inp.now = i64::MAX;
    inp.horizon = i64::MAX;
    let p = plan(&inp);
    assert!(p.gaps.iter().all(|g| g.frames >= 0));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = (Option<u64>, u32, u8, i64)> {
        (
            prop::option::of(0u64..100_000),
            0u32..200,
            0u8..3,
            -1_000_000i64..1_000_000,
        )
    }

    proptest! {
        /// Any rundown, position and clock plan without panicking, one plan per item, and no
        /// fixed item with a known start before its frame.
        #[test]
        fn any_input_plans_and_nothing_fixed_starts_early(
            raw in prop::collection::vec(entry(), 0..60),
            on_air in prop::option::of((0usize..70, -1_000i64..1_000)),
            now in -1_000i64..1_000,
            span in 0i64..5_000,
            rate in prop::sample::select(vec![FrameRate::FPS_25, FrameRate::FPS_59_94]),
            clips in prop::collection::vec(0u64..500, 0..5),
            seed in any::<u64>(),
        ) {
            let entries: Vec<Entry<'_>> = raw
                .iter()
                .map(|&(frames, overlap, mode, at)| Entry {
                    id: "x",
                    frames,
                    overlap,
                    start: match mode {
                        0 => Start::Follow,
                        1 => Start::Hard(at * 10_000_000),
                        _ => Start::Soft(at * 10_000_000),
                    },
                })
                .collect();
            let input = Input {
                entries: &entries,
                position: on_air.map_or(Position::Waiting { next: 0 }, |(index, s)| {
                    Position::OnAir { index, started: s * 10_000_000 }
                }),
                now: now * 10_000_000,
                horizon: (now + span) * 10_000_000,
                clock: FrameClock::new(0, rate),
                filler: Some(Filler { clips: &clips, order: FillerOrder::Shuffle { seed }, next: seed }),
                end: EndPolicy::Filler,
            };
            let p = plan(&input);
            prop_assert_eq!(p.items.len(), entries.len());
            for item in &p.items {
                if let (Some(f), Some(s)) = (item.fixed, item.start) {
                    prop_assert!(s >= f.due && s >= p.now);
                }
                if let (Some(s), Some(e)) = (item.start, item.end) {
                    prop_assert!(e >= s);
                }
            }
            for g in &p.gaps {
                prop_assert!(g.frames > 0);
                let filled: u64 = p.fillers[g.fillers.0..g.fillers.1].iter().map(|f| f.frames).sum();
                prop_assert!(filled <= g.frames as u64);
            }
        }
    }
}
