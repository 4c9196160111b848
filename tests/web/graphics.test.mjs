// Unit tests of the page's graphics words (assets/graphics.js): an item's events as chips and in
// words, its "no logo" flag, the live graphics of a playlist's channel (on that channel and that
// server only, whichever playlist put them there), and whether the playlist's logo is on and why
// not; malformed fields from the daemon are left out, never thrown on. Also the reducer keeping
// what the panel reads: the `graphics` event replacing the live list, a playlist's `logo` from
// `playlist_settings`, an item's events from `item_updated`. And the Update and Invoke dialogs'
// text: which live graphics take them, a template's data as text and back (or why not), a
// function's name. Run by tests/web_e2e.rs with `node --test`; needs no browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  channelGraphics,
  channelLabel,
  channelOf,
  dataText,
  eventChip,
  eventTitle,
  graphicLabel,
  itemEvents,
  logoOff,
  logoState,
  MAX_DATA_BYTES,
  parseData,
  parseMethod,
  shortSpan,
  takesData,
} from '../../assets/graphics.js';
import { applyEvent, fromSnapshot } from '../../assets/state.js';

const LOWER_THIRD = {
  id: 'lt',
  layer: 20,
  offset_ms: 10000,
  duration_ms: 8000,
  graphic: { kind: 'template', template: 'LOWER_THIRD', data: { name: 'Ada' } },
};
const FADE = { id: 'fade', layer: 10, offset_ms: -2000, graphic: { kind: 'mixer', volume: 0, frames: 50 } };
const LOGO = { layer: 30, graphic: { kind: 'still', clip: 'LOGO' } };

function item(id, graphics) {
  return { id, clip: 'CLIP1', frames: 500, fps: [50, 1], loop: false, transition: { kind: 'CUT', frames: 0 }, ...(graphics ? { graphics } : {}) };
}

/** `main` on 1-10 with its logo, `interview` on air (a lower third and a fade) before `ad` (logo
 * off); `news` on channel 2; the live list has main's logo and lower third, the filler's bug on
 * channel 1 and something on channel 2. */
function state(live) {
  const playlist = (id, channel_layer, items, extra = {}) => ({
    id,
    name: id,
    channel_layer,
    items,
    loop: false,
    autoplay: true,
    revision: 1,
    playout: { status: 'stopped', on_air: null, on_air_since_ms: null, cued: null, armed_auto: false, next: null },
    missing: [],
    ...extra,
  });
  return fromSnapshot({
    type: 'snapshot',
    seq: 5,
    state: {
      seq: 5,
      selected: 'main',
      playlists: [
        playlist('main', '1-10', [item('interview', { events: [LOWER_THIRD, FADE] }), item('ad', { logo: false })], {
          logo: LOGO,
          playout: { status: 'playing', on_air: 'interview', on_air_since_ms: 1, cued: null, armed_auto: false, next: 'ad' },
        }),
        playlist('news', '2-10', []),
      ],
      link: { connected: true, server_version: '2.4.3', state: 'connected', telemetry: 'osc' },
      media: { clips: [], updated_ms: 1, error: null },
      alarms: [],
      progress: {},
      graphics: live ?? [
        { channel: 1, layer: 30, playlist: 'main', name: 'logo', label: 'LOGO', phase: 'on' },
        { channel: 2, layer: 20, playlist: 'news', item: 'x', name: 'lt', label: 'LOWER_THIRD', phase: 'on' },
        { channel: 1, layer: 25, playlist: 'night', name: 'bug', label: 'LOGO_BUG', phase: 'stopped', manual: true },
        { channel: 1, layer: 20, playlist: 'main', item: 'interview', name: 'lt', label: 'LOWER_THIRD', phase: 'prepared' },
      ],
    },
  });
}

test('short spans: seconds with their fraction, then minutes and hours', () => {
  assert.equal(shortSpan(0), '0s');
  assert.equal(shortSpan(8000), '8s');
  assert.equal(shortSpan(2500), '2.5s');
  assert.equal(shortSpan(40), '0.04s');
  assert.equal(shortSpan(-2000), '2s');
  assert.equal(shortSpan(90_000), '1m30s');
  assert.equal(shortSpan(120_000), '2m');
  assert.equal(shortSpan(3_900_000), '1h5m');
  assert.equal(shortSpan(86_400_000), '24h');
});

test('an event as a chip: id, layer, when it goes on, how long', () => {
  assert.equal(eventChip(LOWER_THIRD), 'lt · 20 · +10s 8s');
  // From the end, until the item ends.
  assert.equal(eventChip(FADE), 'fade · 10 · -2s');
  // The default offset is the item's first frame.
  assert.equal(eventChip({ id: 'bug', layer: 25, graphic: { kind: 'still', clip: 'BUG' } }), 'bug · 25 · +0s');
});

test('an event in words, for its tooltip', () => {
  assert.equal(eventTitle(LOWER_THIRD), 'template LOWER_THIRD on layer 20, 10s after the start, for 8s');
  assert.equal(eventTitle(FADE), 'mixer change on layer 10, 2s before the end, until the item ends');
  assert.equal(eventTitle({ id: 'b', layer: 5, offset_ms: 0, graphic: { kind: 'still', clip: 'BUG' } }), 'still BUG on layer 5, at the start, until the item ends');
  assert.equal(graphicLabel({ kind: 'template', template: 'TICKER/NEWS' }), 'TICKER/NEWS');
  assert.equal(graphicLabel(null), '?');
});

test("an item's events and its logo flag; malformed events are left out", () => {
  assert.deepEqual(itemEvents(item('a', { events: [LOWER_THIRD, FADE] })).map((e) => e.id), ['lt', 'fade']);
  assert.deepEqual(itemEvents(item('a')), []);
  assert.deepEqual(itemEvents(item('a', { events: 'nope' })), []);
  assert.deepEqual(itemEvents(item('a', { events: [null, { id: 'x' }, { id: '', layer: 1 }, { id: 'ok', layer: 3 }] })).map((e) => e.id), ['ok']);
  assert.equal(logoOff(item('a', { logo: false })), true);
  assert.equal(logoOff(item('a', { events: [LOWER_THIRD] })), false);
  assert.equal(logoOff(item('a')), false);
});

test("a playlist's channel, and its name with the server", () => {
  assert.equal(channelOf({ channel_layer: '1-10' }), 1);
  assert.equal(channelOf({ channel_layer: '12-300' }), 12);
  assert.equal(channelOf({ channel_layer: 'x' }), null);
  assert.equal(channelLabel({ channel_layer: '1-10', server: null }), 'channel 1');
  assert.equal(channelLabel({ channel_layer: '2-10', server: 'studio-b' }), 'studio-b channel 2');
});

test("the live graphics of a playlist's channel, by layer, whoever put them there", () => {
  const s = state();
  const main = s.playlists.find((p) => p.id === 'main');
  const live = channelGraphics(s, main);
  assert.deepEqual(
    live.map((g) => [g.layer, g.name, g.label, g.phase, g.playlist, g.item, g.manual]),
    [
      [20, 'lt', 'LOWER_THIRD', 'prepared', 'main', 'interview', false],
      [25, 'bug', 'LOGO_BUG', 'stopped', 'night', null, true],
      [30, 'logo', 'LOGO', 'on', 'main', null, false],
    ],
  );
  const news = s.playlists.find((p) => p.id === 'news');
  assert.deepEqual(channelGraphics(s, news).map((g) => g.layer), [20]);
  assert.deepEqual(channelGraphics(s, null), []);
  // Malformed entries are left out.
  const bad = state([{ channel: 1, layer: 'x', name: 'a' }, 'junk', { channel: '1', layer: 3 }, { channel: 1, layer: 4 }]);
  assert.deepEqual(channelGraphics(bad, bad.playlists[0]).map((g) => [g.layer, g.name, g.phase]), [[4, '', 'on']]);
});

test('with several servers, only the graphics of the playlist’s server', () => {
  const live = [
    { server: 'main', channel: 1, layer: 30, playlist: 'a', name: 'logo', label: 'LOGO', phase: 'on' },
    { server: 'studio-b', channel: 1, layer: 31, playlist: 'b', name: 'logo', label: 'B', phase: 'on' },
  ];
  const s = state(live);
  s.link.servers = [{ name: 'main', group: 'main' }, { name: 'studio-b', group: 'studio-b' }];
  // No `server`: the station's first.
  assert.deepEqual(channelGraphics(s, { channel_layer: '1-10', server: null }).map((g) => g.layer), [30]);
  assert.deepEqual(channelGraphics(s, { channel_layer: '1-10', server: 'studio-b' }).map((g) => g.layer), [31]);
});

test('the logo: on when onair has it, else why not', () => {
  const s = state();
  const main = s.playlists.find((p) => p.id === 'main');
  assert.deepEqual(logoState(s, main), { layer: 30, label: 'LOGO', on: true, why: null });
  // Taken off by hand: nothing says why.
  s.graphics = s.graphics.filter((g) => g.name !== 'logo');
  assert.deepEqual(logoState(s, main), { layer: 30, label: 'LOGO', on: false, why: null });
  // The item on air has it off.
  main.playout.on_air = 'ad';
  assert.equal(logoState(s, main).why, 'item');
  // Off air.
  main.playout.status = 'stopped';
  assert.equal(logoState(s, main).why, 'idle');
  // Going off is not on.
  s.graphics = [{ channel: 1, layer: 30, playlist: 'main', name: 'logo', label: 'LOGO', phase: 'stopped' }];
  assert.equal(logoState(s, main).on, false);
  // Another playlist's logo on the channel is not this one's.
  s.graphics = [{ channel: 1, layer: 30, playlist: 'night', name: 'logo', label: 'LOGO', phase: 'on' }];
  assert.equal(logoState(s, main).on, false);
  assert.equal(logoState(s, s.playlists.find((p) => p.id === 'news')), null);
});

test('the reducer keeps what the panel reads: live list, logo, item events', () => {
  const s = state();
  assert.ok(applyEvent(s, { seq: 6, kind: 'graphics', graphics: [{ channel: 1, layer: 20, playlist: 'main', item: 'interview', name: 'lt', label: 'LOWER_THIRD', phase: 'on' }] }));
  const main = s.playlists.find((p) => p.id === 'main');
  assert.deepEqual(channelGraphics(s, main).map((g) => [g.layer, g.phase]), [[20, 'on']]);
  assert.ok(applyEvent(s, { seq: 7, kind: 'graphics', graphics: 'junk' }));
  assert.deepEqual(channelGraphics(s, main), []);
  assert.ok(applyEvent(s, { seq: 8, kind: 'playlist_settings', playlist: 'main', revision: 2, name: 'main', loop: false, autoplay: true }));
  assert.equal(logoState(s, main), null, 'no `logo`: removed');
  assert.ok(applyEvent(s, { seq: 9, kind: 'playlist_settings', playlist: 'main', revision: 3, name: 'main', loop: false, autoplay: true, logo: LOGO }));
  assert.equal(logoState(s, main).label, 'LOGO');
  assert.ok(applyEvent(s, { seq: 10, kind: 'item_updated', playlist: 'main', revision: 4, index: 1, item: item('ad', { events: [LOWER_THIRD] }), missing: false }));
  assert.deepEqual(itemEvents(main.items[1]).map(eventChip), ['lt · 20 · +10s 8s']);
  assert.equal(logoOff(main.items[1]), false);
});

test('a live graphic carries its kind and a template’s data as on air; junk is left out', () => {
  const s = state([
    { channel: 1, layer: 20, playlist: 'main', name: 'lt', label: 'LOWER_THIRD', kind: 'template', data: { name: 'Ada' }, phase: 'on' },
    { channel: 1, layer: 21, playlist: 'main', name: 'xml', label: 'CLOCK', kind: 'template', data: '<templateData/>', phase: 'on' },
    { channel: 1, layer: 22, playlist: 'main', name: 'bad', label: 'T', kind: 7, data: 42, phase: 'on' },
    { channel: 1, layer: 30, playlist: 'main', name: 'logo', label: 'LOGO', kind: 'still', phase: 'on' },
  ]);
  const live = channelGraphics(s, s.playlists[0]);
  assert.deepEqual(
    live.map((g) => [g.layer, g.kind, g.data]),
    [
      [20, 'template', { name: 'Ada' }],
      [21, 'template', '<templateData/>'],
      [22, null, null],
      [30, 'still', null],
    ],
  );
  // Update and Invoke: a template only, and not while it goes off.
  assert.deepEqual(live.map(takesData), [true, true, false, false]);
  assert.equal(takesData({ kind: 'template', phase: 'prepared' }), true);
  assert.equal(takesData({ kind: 'template', phase: 'stopped' }), false);
  assert.equal(takesData(null), false);
});

test('the Update dialog’s text: indented JSON, XML as it is, {} for none', () => {
  assert.equal(dataText({ name: 'Ada', n: 1 }), '{\n  "name": "Ada",\n  "n": 1\n}');
  assert.equal(dataText('<templateData>\n</templateData>'), '<templateData>\n</templateData>');
  assert.equal(dataText(null), '{}');
  assert.equal(dataText(undefined), '{}');
  // What the dialog shows parses back to what is on air.
  const data = { name: 'Ada "the first" Lovelace', lines: ['a', 'b'], nested: { x: null } };
  assert.deepEqual(parseData(dataText(data)), { data });
});

test('what is typed in the Update dialog: a JSON object or XML, else an error and nothing sent', () => {
  assert.deepEqual(parseData('{"name": "Grace"}'), { data: { name: 'Grace' } });
  assert.deepEqual(parseData('  {"a": {"b": [1, 2]}}\n'), { data: { a: { b: [1, 2] } } });
  // XML from its first `<`, sent as text (trimmed).
  assert.deepEqual(parseData('\n <templateData><x/></templateData>\n'), { data: '<templateData><x/></templateData>' });
  assert.deepEqual(parseData('<not really xml'), { data: '<not really xml' }, 'CasparCG judges the XML');
  for (const [text, says] of [
    ['{name: "Grace"}', /^Not valid JSON: /],
    ['{"name": "Grace"', /^Not valid JSON: /],
    ['[1, 2]', /^This is an array, not a JSON object/],
    ['"LOWER_THIRD_DATA"', /^This is a string, not a JSON object/],
    ['42', /^This is a number, not a JSON object/],
    ['null', /^This is null, not a JSON object/],
    ['   ', /^Give the data/],
    ['', /^Give the data/],
    ['stored_data_file', /^Not valid JSON: /],
    ['<a>\r\n</a>', /carriage return/],
  ]) {
    const r = parseData(text);
    assert.equal(r.data, undefined, `${JSON.stringify(text)} must not be sent`);
    assert.match(r.error, says, JSON.stringify(text));
  }
  // The daemon's limit, in UTF-8 bytes of compact JSON.
  const big = { s: 'é'.repeat(MAX_DATA_BYTES / 2) };
  assert.match(parseData(JSON.stringify(big)).error, /bytes long; a template takes at most 16384/);
  assert.ok(parseData(JSON.stringify({ s: 'x'.repeat(MAX_DATA_BYTES - 10) })).data);
  assert.match(parseData(`<a>${'x'.repeat(MAX_DATA_BYTES)}</a>`).error, /at most 16384/);
});

test('what is typed in the Invoke dialog: a function’s name, trimmed, as the daemon takes it', () => {
  assert.deepEqual(parseMethod(' next_headline '), { method: 'next_headline' });
  assert.deepEqual(parseMethod("leftTab('a b')"), { method: "leftTab('a b')" });
  assert.match(parseMethod('').error, /^Give the name/);
  assert.match(parseMethod('  \t ').error, /^Give the name/);
  assert.match(parseMethod(undefined).error, /^Give the name/);
  assert.match(parseMethod('a\u0007b').error, /control character/);
  assert.deepEqual(parseMethod('é'.repeat(256)), { method: 'é'.repeat(256) });
  assert.match(parseMethod('x'.repeat(257)).error, /longer than 256/);
});
