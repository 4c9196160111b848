// Unit tests of the page's reducer (assets/state.js): each event kind changes the copy as the
// daemon's own reducer does (insert at index, replace by id, move to index, remove, settings with
// the filler role and end action, playout, missing sorted by id; a position hint that is wrong
// only costs a search), and an event that does not fit (malformed, unknown item or playlist, index
// out of range, unknown kind) is refused without throwing and without touching the copy, so that
// the client can replace it with a snapshot. Also the words the page derives from the copy (a
// playlist's role, a layer taken over) and the planned timeline. Run by tests/web_e2e.rs with
// `node --test`; needs no browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  SNAPSHOT_SINCE,
  applyEvent,
  formatSpan,
  fromSnapshot,
  fromTimeline,
  nextFixed,
  planDiff,
  planMark,
  playlistMarks,
  stationTime,
  takenOver,
  layerLabel,
  sameLayer,
  timelineEntry,
  unfilledGap,
} from '../../assets/state.js';

function item(id, clip = 'CLIP', extra = {}) {
  return { id, clip, frames: 500, fps: [50, 1], loop: false, transition: { kind: 'CUT', frames: 0 }, ...extra };
}

/** A state at seq 10 with playlist `main` (items a, b, c; b's clip missing) and an empty `other`. */
function state() {
  const playlist = (id, items, missing = []) => ({
    id,
    name: id.toUpperCase(),
    channel_layer: '1-10',
    items,
    loop: false,
    autoplay: true,
    revision: 1,
    playout: { status: 'stopped', on_air: null, on_air_since_ms: null, cued: null, armed_auto: false, next: null },
    missing,
  });
  return fromSnapshot({
    type: 'snapshot',
    seq: 10,
    state: {
      seq: 10,
      selected: 'main',
      playlists: [playlist('main', [item('a'), item('b'), item('c')], ['b']), playlist('other', [])],
      link: { connected: true, server_version: '2.4.3', state: 'connected', telemetry: 'osc' },
      media: { clips: [], updated_ms: 1, error: null },
      alarms: [],
      progress: {},
    },
  });
}

const main = (s) => s.playlists.find((p) => p.id === 'main');
const ids = (s) => main(s).items.map((i) => i.id);

/** Applies `fields` as the next event; asserts it applied. */
function apply(s, fields) {
  const seq = s.seq + 1;
  assert.equal(applyEvent(s, { type: 'event', seq, ...fields }), true, JSON.stringify(fields));
  assert.equal(s.seq, seq);
}

test('item_added inserts at its index and marks a missing clip in id order', () => {
  const s = state();
  apply(s, { kind: 'item_added', playlist: 'main', revision: 2, index: 0, item: item('z'), missing: false });
  apply(s, { kind: 'item_added', playlist: 'main', revision: 3, index: 2, item: item('aa', 'GONE'), missing: true });
  apply(s, { kind: 'item_added', playlist: 'main', revision: 4, index: 5, item: item('end'), missing: false });
  assert.deepEqual(ids(s), ['z', 'a', 'aa', 'b', 'c', 'end']);
  assert.deepEqual(main(s).missing, ['aa', 'b']);
  assert.equal(main(s).revision, 4);
  assert.equal(main(s).items[2].clip, 'GONE');
});

test('item_updated replaces the item by id and sets or clears its missing mark', () => {
  const s = state();
  apply(s, { kind: 'item_updated', playlist: 'main', revision: 2, index: 1, item: item('b', 'FOUND', { title: 'Bee' }), missing: false });
  assert.deepEqual(ids(s), ['a', 'b', 'c']);
  assert.equal(main(s).items[1].title, 'Bee');
  assert.deepEqual(main(s).missing, []);
  apply(s, { kind: 'item_updated', playlist: 'main', revision: 3, index: 2, item: item('c', 'LOST'), missing: true });
  assert.deepEqual(main(s).missing, ['c']);
  assert.equal(main(s).revision, 3);
});

test('item_moved puts the item at its index; a missing item stays marked', () => {
  const s = state();
  apply(s, { kind: 'item_moved', playlist: 'main', revision: 2, item: 'a', from: 0, index: 2 });
  assert.deepEqual(ids(s), ['b', 'c', 'a']);
  apply(s, { kind: 'item_moved', playlist: 'main', revision: 3, item: 'a', from: 2, index: 0 });
  apply(s, { kind: 'item_moved', playlist: 'main', revision: 4, item: 'b', from: 1, index: 2 });
  assert.deepEqual(ids(s), ['a', 'c', 'b']);
  assert.deepEqual(main(s).missing, ['b']);
});

test('item_removed removes the item and its missing mark', () => {
  const s = state();
  apply(s, { kind: 'item_removed', playlist: 'main', revision: 2, item: 'b', index: 1 });
  assert.deepEqual(ids(s), ['a', 'c']);
  assert.deepEqual(main(s).missing, []);
  assert.equal(main(s).revision, 2);
});

test('a position hint that is wrong or missing only costs a search', () => {
  const s = state();
  apply(s, { kind: 'item_removed', playlist: 'main', revision: 2, item: 'c', index: 0 });
  apply(s, { kind: 'item_moved', playlist: 'main', revision: 3, item: 'b', from: 7, index: 0 });
  apply(s, { kind: 'item_updated', playlist: 'main', revision: 4, item: item('a', 'NEW'), missing: false });
  assert.deepEqual(ids(s), ['b', 'a']);
  assert.equal(main(s).items[1].clip, 'NEW');
});

test('playlist_settings sets the name, loop and autoplay', () => {
  const s = state();
  apply(s, { kind: 'playlist_settings', playlist: 'main', revision: 2, name: 'News', loop: true, autoplay: false });
  const p = main(s);
  assert.deepEqual([p.name, p.loop, p.autoplay, p.revision], ['News', true, false, 2]);
  assert.deepEqual(ids(s), ['a', 'b', 'c'], 'items untouched');
});

test('playout replaces the playout, normalized', () => {
  const s = state();
  apply(s, { kind: 'playout', playlist: 'main', playout: { status: 'playing', on_air: 'a', on_air_since_ms: 5, next: 'b' } });
  assert.deepEqual(main(s).playout, { status: 'playing', on_air: 'a', on_air_since_ms: 5, cued: null, armed_auto: false, next: 'b', left_after: null });
});

test('playlist_settings sets and clears the filler role and the end action, as the snapshot leaves them out', () => {
  const s = state();
  apply(s, { kind: 'playlist_settings', playlist: 'other', revision: 2, name: 'Night', loop: false, autoplay: true, filler: 'shuffle' });
  apply(s, { kind: 'playlist_settings', playlist: 'main', revision: 2, name: 'MAIN', loop: false, autoplay: true, end_action: 'black' });
  const other = s.playlists.find((p) => p.id === 'other');
  assert.equal(other.filler, 'shuffle');
  assert.equal(main(s).end_action, 'black');
  assert.equal(playlistMarks(other), 'FILLER · shuffle');
  assert.equal(playlistMarks(main(s)), 'end: black');
  apply(s, { kind: 'playlist_settings', playlist: 'other', revision: 3, name: 'Night', loop: false, autoplay: true, filler: 'in_order' });
  assert.equal(playlistMarks(other), 'FILLER · in order');
  apply(s, { kind: 'playlist_settings', playlist: 'main', revision: 3, name: 'MAIN', loop: false, autoplay: true, end_action: 'filler' });
  apply(s, { kind: 'playlist_settings', playlist: 'other', revision: 4, name: 'Night', loop: false, autoplay: true });
  assert.ok(!('end_action' in main(s)) && !('filler' in other));
  assert.equal(playlistMarks(main(s)), '', 'the default end is not worth a word');
  assert.equal(playlistMarks(other), '');
});

test('a playlist stopped with left_after was taken over; who by, once the other is on air', () => {
  const s = state();
  assert.equal(takenOver(s, main(s)), null, 'stopped by hand');
  apply(s, { kind: 'playout', playlist: 'main', playout: { status: 'stopped', next: 'c', left_after: 'b' } });
  assert.deepEqual(takenOver(s, main(s)), { item: main(s).items[1], itemId: 'b', by: null });
  apply(s, { kind: 'playout', playlist: 'other', playout: { status: 'playing', on_air: 'x' } });
  assert.equal(takenOver(s, main(s)).by.id, 'other');
  // Another layer's playlist never counts.
  s.playlists.find((p) => p.id === 'other').channel_layer = '2-10';
  assert.equal(takenOver(s, main(s)).by, null);
  apply(s, { kind: 'item_removed', playlist: 'main', revision: 2, item: 'b' });
  assert.equal(takenOver(s, main(s)).item, null, 'the item was deleted since');
  apply(s, { kind: 'playout', playlist: 'main', playout: { status: 'playing', on_air: 'c', left_after: 'b' } });
  assert.equal(takenOver(s, main(s)), null, 'on air again');
});

test('missing replaces the list, sorted by id', () => {
  const s = state();
  apply(s, { kind: 'missing', playlist: 'main', missing: ['c', 'a'] });
  assert.deepEqual(main(s).missing, ['a', 'c']);
});

test('a whole playlist replaces its copy or is inserted in id order', () => {
  const s = state();
  const whole = (id, items) => ({ id, name: id, channel_layer: '2-10', items, loop: false, autoplay: true, revision: 9, playout: {}, missing: ['y', 'x'] });
  apply(s, { kind: 'playlist', playlist: whole('main', [item('x'), item('y')]) });
  assert.deepEqual(ids(s), ['x', 'y']);
  assert.deepEqual(main(s).missing, ['x', 'y'], 'sorted even if sent unsorted');
  apply(s, { kind: 'playlist', playlist: whole('news', []) });
  assert.deepEqual(s.playlists.map((p) => p.id), ['main', 'news', 'other']);
});

test('playlist_removed drops the playlist, and the selection if it was the one', () => {
  const s = state();
  apply(s, { kind: 'playlist_removed', playlist: 'other' });
  assert.equal(s.selected, 'main');
  apply(s, { kind: 'playlist_removed', playlist: 'main' });
  assert.deepEqual([s.playlists.length, s.selected], [0, null]);
});

test('events that do not fit are refused without throwing and change nothing', () => {
  const bad = [
    null,
    [],
    { kind: 'brand_new_kind', playlist: 'main' },
    { kind: 'playlist' },
    { kind: 'playlist', playlist: 'main' },
    { kind: 'item_added', playlist: 'nope', revision: 2, index: 0, item: item('z'), missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: 4, item: item('z'), missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: -1, item: item('z'), missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: '0', item: item('z'), missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: 0, item: item('a'), missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: 0, item: 'z', missing: false },
    { kind: 'item_added', playlist: 'main', revision: 2, index: 0, item: { clip: 'X' }, missing: false },
    { kind: 'item_added', playlist: { id: 'main' }, revision: 2, index: 0, item: item('z'), missing: false },
    { kind: 'item_updated', playlist: 'main', revision: 2, item: item('zz'), missing: false },
    { kind: 'item_updated', playlist: 'main', revision: 2 },
    { kind: 'item_moved', playlist: 'main', revision: 2, item: 'a', index: 3 },
    { kind: 'item_moved', playlist: 'main', revision: 2, item: 'zz', index: 0 },
    { kind: 'item_moved', playlist: 'main', revision: 2, item: 'a', index: 1.5 },
    { kind: 'item_moved', playlist: 'main', revision: 2, item: { id: 'a' }, index: 0 },
    { kind: 'item_removed', playlist: 'main', revision: 2, item: 'zz' },
    { kind: 'item_removed', playlist: 'main', revision: 2 },
    { kind: 'playlist_settings', playlist: 'nope', revision: 2, name: 'X', loop: true, autoplay: true },
    { kind: 'playout', playlist: 'main', playout: null },
    { kind: 'playout', playlist: 'nope', playout: {} },
    { kind: 'missing', playlist: 'main', missing: 'a' },
    { kind: 'missing', playlist: 'nope', missing: [] },
    { kind: 'alarm_raised', alarm: 3 },
  ];
  for (const fields of bad) {
    const s = state();
    const before = structuredClone(s);
    const ev = fields === null || Array.isArray(fields) ? fields : { type: 'event', seq: 11, ...fields };
    assert.equal(applyEvent(s, ev), false, JSON.stringify(fields));
    assert.deepEqual(s, before, `untouched by ${JSON.stringify(fields)}`);
  }
});

test('a snapshot is asked for with a since no daemon reaches, exactly representable', () => {
  assert.equal(SNAPSHOT_SINCE, 2 ** 53 - 1);
  assert.ok(Number.isSafeInteger(SNAPSHOT_SINCE));
});

test('any sequence of item events gives the daemon\'s list (seeded random edits)', () => {
  // The daemon's side, kept with plain array operations; the copy with applyEvent.
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const s = state();
  const daemon = { items: ['a', 'b', 'c'], missing: new Set(['b']), revision: 1 };
  let next = 0;
  // The position the daemon saw, or now and then a stale one (which must only cost a search).
  const hint = (at) => (rand(8) === 0 ? at + 1 : at);
  for (let step = 0; step < 2000; step++) {
    const len = daemon.items.length;
    const op = len === 0 ? 0 : rand(5);
    const revision = ++daemon.revision;
    if (op === 0) {
      const id = `n${next++}`;
      const index = rand(len + 1);
      const missing = rand(3) === 0;
      daemon.items.splice(index, 0, id);
      if (missing) daemon.missing.add(id);
      apply(s, { kind: 'item_added', playlist: 'main', revision, index, item: item(id), missing });
    } else if (op === 1) {
      const at = rand(len);
      const id = daemon.items[at];
      const missing = rand(2) === 0;
      if (missing) daemon.missing.add(id);
      else daemon.missing.delete(id);
      apply(s, { kind: 'item_updated', playlist: 'main', revision, index: hint(at), item: item(id, `C${step}`), missing });
    } else if (op === 2) {
      const from = rand(len);
      const id = daemon.items[from];
      const index = rand(len);
      daemon.items.splice(from, 1);
      daemon.items.splice(index, 0, id);
      apply(s, { kind: 'item_moved', playlist: 'main', revision, item: id, from: hint(from), index });
    } else {
      const at = rand(len);
      const id = daemon.items[at];
      daemon.items.splice(at, 1);
      daemon.missing.delete(id);
      apply(s, { kind: 'item_removed', playlist: 'main', revision, item: id, index: hint(at) });
    }
    assert.deepEqual(ids(s), daemon.items, `after step ${step}`);
  }
  assert.deepEqual(main(s).missing, [...daemon.missing].sort());
  assert.equal(main(s).revision, daemon.revision);
});

test('timeline: entries match rows only at the revision they were planned from', () => {
  const s = state();
  const p = main(s);
  const tl = fromTimeline({
    type: 'timeline',
    planned_ms: 1000,
    station: { timezone: 'Europe/Berlin', day_start: '06:00', air_date: '2024-03-01', utc_offset_s: 3600 },
    playlists: {
      main: {
        revision: 1,
        first: 1,
        entries: [
          { item: 'b', state: 'on_air', start_ms: 0, cut: true, lost_ms: 12_000 },
          { item: 'c', state: 'planned', start_ms: 20_000, fixed: { hard: true, due_ms: 20_000, slack_ms: -4_001 } },
          'garbage',
        ],
        gaps: [{ start_ms: 10_000, length_ms: 5_000, before: 'c', fill: 'unfilled' }, { start_ms: 'x' }],
        next_fixed: { item: 'c', hard: true, due_ms: 20_000, start_ms: 20_000 },
      },
      bad: 7,
    },
  });
  assert.deepEqual(Object.keys(tl.playlists), ['main']);
  const view = tl.playlists.main;
  assert.equal(view.entries.length, 2, 'non-objects dropped');
  assert.equal(view.gaps.length, 1);
  assert.equal(timelineEntry(view, p, 0), null, 'before the window: past');
  assert.equal(timelineEntry(view, p, 1).item, 'b');
  assert.equal(timelineEntry(view, p, 2).item, 'c');
  assert.deepEqual(planDiff(timelineEntry(view, p, 1)), { kind: 'cut', text: '✂ -00:12' });
  assert.deepEqual(planDiff(timelineEntry(view, p, 2)), { kind: 'over', text: '-00:05' });
  assert.equal(planMark(timelineEntry(view, p, 2)), 'H');
  assert.equal(stationTime(20_000, tl.station.utc_offset_s), '01:00:20');
  // An edit the plan did not see: no row is labelled until the next timeline.
  apply(s, { kind: 'item_removed', playlist: 'main', revision: 2, index: 0, item: 'a' });
  assert.equal(timelineEntry(view, main(s), 1), null);
  assert.equal(timelineEntry(view, main(s), 0), null);
});

test('timeline: under-run, count-down from the client clock, unfilled gaps ahead', () => {
  const e = (slack) => ({ cut: false, lost_ms: null, fixed: { hard: false, slack_ms: slack } });
  assert.deepEqual(planDiff(e(10_000)), { kind: 'under', text: '+00:10' });
  assert.deepEqual(planDiff(e(0)), { kind: 'on-time', text: '00:00' });
  assert.equal(planDiff(e(null)), null);
  assert.equal(planMark(e(1)), 'S');
  assert.equal(formatSpan(3_725_000), '1:02:05');
  assert.equal(stationTime(-1000), '23:59:59');
  const view = fromTimeline({
    planned_ms: 0,
    playlists: { main: { revision: 1, first: 0, entries: [], gaps: [{ start_ms: 10_000, length_ms: 5_000, fill: 'unfilled' }, { start_ms: 30_000, length_ms: 5_000, fill: 'filler' }], next_fixed: { item: 'c', hard: false, due_ms: 60_000, start_ms: 61_000 } } },
  }).playlists.main;
  assert.equal(nextFixed(view, 1_000).left_ms, 60_000);
  assert.equal(nextFixed(view, 99_000).left_ms, 0, 'never negative');
  assert.equal(nextFixed(null, 0), null);
  assert.equal(unfilledGap(view, 0).start_ms, 10_000);
  assert.equal(unfilledGap(view, 14_999).start_ms, 10_000, 'still under way');
  assert.equal(unfilledGap(view, 15_000), null, 'over; a filled gap is no warning');
});

test('a playlist names its server: the label says where it plays, and only the same server shares a layer', () => {
  const s = state();
  s.link.servers = [
    { name: 'a', group: 'a', role: 'main' },
    { name: 'b', group: 'b', role: 'main' },
  ];
  const p = main(s);
  assert.equal(p.server, null);
  assert.equal(layerLabel(p), p.channel_layer);
  const onB = { ...p, id: 'x', server: 'b' };
  const onA = { ...p, id: 'y', server: 'a' };
  assert.equal(layerLabel(onB), `b ${p.channel_layer}`);
  assert.equal(sameLayer(s, p, onA), true, 'no server is the first server');
  assert.equal(sameLayer(s, p, onB), false);
  // A playlist on another server never takes this one's layer over.
  apply(s, { kind: 'playout', playlist: 'main', playout: { status: 'stopped', next: 'c', left_after: 'b' } });
  apply(s, { kind: 'playout', playlist: 'other', playout: { status: 'playing', on_air: 'x' } });
  s.playlists.find((o) => o.id === 'other').server = 'b';
  assert.equal(takenOver(s, main(s)).by, null);
});
