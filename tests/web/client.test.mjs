// Unit tests of the page's protocol client (assets/client.js, assets/state.js) against a fake
// WebSocket: hello/snapshot, ordered events, duplicates, gaps, resume after a drop (same daemon and
// restarted daemon), acks, and the role. Run by tests/web_e2e.rs with `node --test`; needs no browser.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

/** Stands in for the browser's WebSocket; the test plays the server. */
class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];

  constructor(url) {
    this.url = new URL(url);
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    FakeWebSocket.all.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = FakeWebSocket.CLOSED;
  }

  // ---- the server's side ----
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({});
  }

  recv(msg) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }

  drop(code = 1006, reason = '') {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason });
  }
}

globalThis.WebSocket = FakeWebSocket;
globalThis.fetch = async () => {
  throw new Error('no daemon in unit tests');
};

const { OnairClient } = await import('../../assets/client.js');
const { formatTime, itemSeconds, classifyEvent, SNAPSHOT_SINCE } = await import('../../assets/state.js');

const clients = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
  FakeWebSocket.all.length = 0;
});

function newClient(token = null) {
  const c = new OnairClient({ url: 'ws://127.0.0.1:8250/ws', token });
  clients.push(c);
  c.start();
  return c;
}

const last = () => FakeWebSocket.all[FakeWebSocket.all.length - 1];
const tick = () => new Promise((r) => setTimeout(r, 0));

function playlist(items, playout = {}) {
  return {
    id: 'main',
    name: 'Main',
    channel_layer: '1-10',
    items: items.map((clip, i) => ({ id: `i${i}`, clip, frames: 500, fps: [50, 1] })),
    loop: false,
    autoplay: true,
    revision: 1,
    playout: { status: 'stopped', on_air: null, cued: null, armed_auto: false, next: null, ...playout },
    missing: [],
  };
}

function snapshot(seq, items = ['A']) {
  return {
    type: 'snapshot',
    seq,
    state: {
      seq,
      selected: 'main',
      playlists: [playlist(items)],
      link: { connected: true, server_version: '2.4.3', state: 'connected', telemetry: 'osc' },
      media: { clips: [{ name: 'A', kind: 'MOVIE', duration: 10 }], updated_ms: 1, error: null },
      alarms: [],
      progress: {},
    },
  };
}

const hello = (boot, seq, role = 'operator') => ({ type: 'hello', server_version: '0.1.0', boot_id: boot, seq, role });
const ev = (seq, items) => ({ type: 'event', seq, kind: 'playlist', playlist: playlist(items) });
const titles = (c) => c.state.playlists[0].items.map((i) => i.clip);

function connected(c, boot = 'b1', seq = 4, items = ['A']) {
  const ws = last();
  ws.open();
  ws.recv(hello(boot, seq));
  ws.recv(snapshot(seq, items));
  assert.equal(c.status, 'connected');
  return ws;
}

test('hello then snapshot: connected with the full state', () => {
  const c = newClient();
  assert.equal(c.status, 'connecting');
  assert.equal(last().url.searchParams.has('boot_id'), false, 'no resume on the first connection');
  const ws = last();
  ws.open();
  ws.recv(hello('b1', 4));
  assert.equal(c.status, 'syncing', 'not in sync before the snapshot');
  ws.recv(ev(5, ['X'])); // before the snapshot: not part of a stream we joined
  ws.recv(snapshot(4));
  assert.equal(c.status, 'connected');
  assert.equal(c.state.seq, 4);
  assert.deepEqual(titles(c), ['A']);
  assert.equal(c.role, 'operator');
  assert.equal(c.canCommand, true);
});

test('events apply in order; duplicates are ignored; a gap asks for a resume once', () => {
  const c = newClient();
  const ws = connected(c);
  ws.recv(ev(5, ['A', 'B']));
  ws.recv(ev(5, ['WRONG'])); // duplicate
  ws.recv(ev(4, ['WRONG'])); // older
  assert.deepEqual(titles(c), ['A', 'B']);
  assert.equal(c.state.seq, 5);
  ws.recv(ev(8, ['GAP']));
  ws.recv(ev(9, ['GAP']));
  assert.deepEqual(titles(c), ['A', 'B'], 'events from the future are not applied');
  assert.deepEqual(ws.sent, [{ type: 'resume', boot_id: 'b1', since: 5 }]);
  ws.recv(ev(6, ['A', 'B', 'C'])); // the replay
  assert.equal(c.state.seq, 6);
});

test('unknown message types are ignored', () => {
  const c = newClient();
  const ws = connected(c);
  ws.recv({ type: 'brand_new_thing', x: 1 });
  ws.recv('not json');
  ws.recv('[1,2]');
  ws.recv(ev(5, ['A', 'B']));
  assert.equal(c.state.seq, 5);
  assert.deepEqual(titles(c), ['A', 'B']);
  assert.deepEqual(ws.sent, []);
});

test('an event that does not fit (or of an unknown kind) asks for a snapshot, not a replay', () => {
  for (const bad of [
    { kind: 'item_removed', playlist: 'main', revision: 2, item: 'not-here', index: 0 },
    { kind: 'item_moved', playlist: 'main', revision: 2, item: 'i0', from: 0, index: 'x' },
    { kind: 'future_kind', stuff: {} },
  ]) {
    const c = newClient();
    const ws = connected(c);
    ws.recv({ type: 'event', seq: 5, ...bad });
    // Resuming from 4 would replay the same event: a `since` beyond any seq brings a snapshot.
    assert.deepEqual(ws.sent, [{ type: 'resume', boot_id: 'b1', since: SNAPSHOT_SINCE }], bad.kind);
    assert.equal(c.state.seq, 4, 'the copy is left as it was');
    assert.equal(c.status, 'syncing');
    assert.equal(c.canCommand, false, 'no commands on a copy known to be wrong');
    ws.recv(ev(6, ['LATER'])); // in flight before the snapshot: ignored, and no second request
    assert.deepEqual(titles(c), ['A']);
    assert.equal(ws.sent.length, 1);
    ws.recv(snapshot(6, ['A', 'FIXED']));
    assert.equal(c.status, 'connected');
    assert.deepEqual(titles(c), ['A', 'FIXED']);
    ws.recv({ type: 'event', seq: 7, kind: 'item_added', playlist: 'main', revision: 3, index: 2, item: { id: 'n', clip: 'NEW' }, missing: false });
    assert.deepEqual(titles(c), ['A', 'FIXED', 'NEW']);
    c.stop();
  }
});

test('item events apply in order and each change event carries the event it applied', () => {
  const c = newClient();
  const ws = connected(c, 'b1', 4, ['A', 'B']);
  const seen = [];
  c.addEventListener('change', (e) => seen.push(e.detail?.kind ?? null));
  ws.recv({ type: 'event', seq: 5, kind: 'item_added', playlist: 'main', revision: 2, index: 0, item: { id: 'n', clip: 'N' }, missing: true });
  ws.recv({ type: 'event', seq: 6, kind: 'item_moved', playlist: 'main', revision: 3, item: 'n', from: 0, index: 2 });
  ws.recv({ type: 'event', seq: 7, kind: 'playout', playlist: 'main', playout: { status: 'playing', on_air: 'n' } });
  assert.deepEqual(titles(c), ['A', 'B', 'N']);
  assert.deepEqual(c.state.playlists[0].missing, ['n']);
  assert.equal(c.state.playlists[0].playout.on_air, 'n');
  assert.deepEqual(seen, ['item_added', 'item_moved', 'playout']);
  assert.deepEqual(ws.sent, []);
});

test('the other event kinds change what they carry', () => {
  const c = newClient();
  const ws = connected(c);
  ws.recv({ type: 'event', seq: 5, kind: 'alarm_raised', alarm: { id: 3, severity: 'critical', kind: 'caspar', message: 'm', raised_ms: 1 } });
  ws.recv({ type: 'event', seq: 6, kind: 'link', link: { connected: false, server_version: null, state: 'down: refused', telemetry: 'none' } });
  ws.recv({ type: 'event', seq: 7, kind: 'media', media: { clips: [], updated_ms: 2, error: 'CLS failed' } });
  ws.recv({ type: 'event', seq: 8, kind: 'selected', playlist: 'other' });
  assert.equal(c.state.alarms.length, 1);
  assert.equal(c.state.link.connected, false);
  assert.equal(c.state.media.error, 'CLS failed');
  assert.equal(c.state.selected, 'other');
  ws.recv({ type: 'event', seq: 9, kind: 'alarm_cleared', id: 3 });
  ws.recv({ type: 'event', seq: 10, kind: 'playlist_removed', playlist: 'main' });
  assert.equal(c.state.alarms.length, 0);
  assert.equal(c.state.playlists.length, 0);
});

test('acks resolve commands; a drop fails the pending ones; nothing is sent while disconnected', async () => {
  const c = newClient();
  const ws = connected(c);
  const ok = c.command('item.add', { clip: 'A' });
  const lost = c.command('playout.take', {});
  assert.deepEqual(ws.sent[0], { type: 'command', id: '1', op: 'item.add', args: { clip: 'A' } });
  ws.recv({ type: 'ack', id: '99', ok: true }); // not ours
  ws.recv({ type: 'ack', id: '1', ok: true, item: 'i9', seq: 5 });
  assert.equal((await ok).item, 'i9');
  ws.drop(1006);
  await assert.rejects(lost, { code: 'connection_lost' });
  await assert.rejects(c.command('playout.take'), { code: 'not_connected' });
  assert.equal(c.status, 'reconnecting');
});

test('a failed ack resolves with the error for the page to show', async () => {
  const c = newClient();
  const ws = connected(c);
  const p = c.command('playout.previous', {});
  ws.recv({ type: 'ack', id: '1', ok: false, error: { code: 'no_previous_item', message: 'there is no previous item' } });
  const ack = await p;
  assert.equal(ack.ok, false);
  assert.equal(ack.error.code, 'no_previous_item');
});

test('resume after a drop: same daemon replays the missed events, no snapshot', async () => {
  const c = newClient();
  let ws = connected(c);
  ws.recv(ev(5, ['A', 'B']));
  ws.drop(1006);
  await tick();
  assert.equal(c.status, 'reconnecting');
  c.reconnectNow(); // skip the backoff
  ws = last();
  assert.equal(ws.url.searchParams.get('boot_id'), 'b1');
  assert.equal(ws.url.searchParams.get('since'), '5');
  ws.open();
  ws.recv(hello('b1', 7));
  assert.equal(c.status, 'syncing', 'two events still to come');
  assert.deepEqual(titles(c), ['A', 'B'], 'the last known state stays while syncing');
  ws.recv(ev(6, ['A', 'B', 'C']));
  ws.recv(ev(7, ['A', 'B', 'C', 'D']));
  assert.equal(c.status, 'connected');
  assert.deepEqual(titles(c), ['A', 'B', 'C', 'D']);
});

test('resume after a daemon restart: events of the new boot wait for its snapshot', async () => {
  const c = newClient();
  let ws = connected(c, 'b1', 40);
  ws.drop(1001);
  await tick();
  c.reconnectNow();
  ws = last();
  assert.equal(ws.url.searchParams.get('since'), '40');
  ws.open();
  ws.recv(hello('b2', 2));
  ws.recv(ev(41, ['NOT', 'OURS'])); // seq 41 would look like "next" to a client that ignored the boot id
  assert.equal(c.status, 'syncing');
  ws.recv(snapshot(2, ['NEW']));
  assert.equal(c.status, 'connected');
  assert.equal(c.bootId, 'b2');
  assert.equal(c.state.seq, 2);
  assert.deepEqual(titles(c), ['NEW']);
  ws.recv(ev(3, ['NEW', 'MORE']));
  assert.deepEqual(titles(c), ['NEW', 'MORE']);
});

test('a snapshot at any time replaces the whole state (slow-client resync)', () => {
  const c = newClient();
  const ws = connected(c);
  ws.recv({ type: 'progress', progress: { main: { elapsed: 1, remaining: 9, duration: 10, rundown_remaining: 9, fresh: true } } });
  ws.recv(snapshot(20, ['R']));
  assert.equal(c.state.seq, 20);
  assert.deepEqual(titles(c), ['R']);
  assert.deepEqual(c.state.progress, {}, 'progress too comes from the snapshot');
  ws.recv(ev(21, ['R', 'S']));
  assert.equal(c.state.seq, 21);
});

test('viewer: commands refused locally; the token goes in the URL', async () => {
  const c = newClient('s3cr:t');
  const ws = last();
  assert.equal(ws.url.searchParams.get('token'), 's3cr:t');
  ws.open();
  ws.recv(hello('b1', 1, 'viewer'));
  ws.recv(snapshot(1));
  assert.equal(c.canCommand, false);
  await assert.rejects(c.command('playout.take'), { code: 'forbidden' });
  assert.deepEqual(ws.sent, []);
});

test('an error message and a policy close become notices', async () => {
  const c = newClient();
  const ws = connected(c);
  const notices = [];
  c.addEventListener('notice', (e) => notices.push(e.detail));
  ws.recv({ type: 'error', code: 'bad_json', message: 'not valid JSON' });
  ws.drop(1008, 'rate limit exceeded');
  await tick();
  assert.equal(notices.length, 2);
  assert.match(notices[0].text, /bad_json/);
  assert.match(notices[1].text, /1008: rate limit exceeded/);
});

test('a snapshot that came before hello is not waited for again', () => {
  const c = newClient();
  const ws = last();
  ws.open();
  ws.recv(snapshot(3));
  ws.recv(hello('b1', 3));
  assert.equal(c.status, 'connected');
  ws.recv(ev(4, ['A', 'B']));
  assert.deepEqual(titles(c), ['A', 'B']);
});

test('classifyEvent, formatTime and itemSeconds', () => {
  assert.equal(classifyEvent(4, 5), 'apply');
  assert.equal(classifyEvent(4, 4), 'duplicate');
  assert.equal(classifyEvent(4, 7), 'gap');
  assert.equal(classifyEvent(4, '5'), 'invalid');
  assert.equal(formatTime(0), '00:00');
  assert.equal(formatTime(7.6), '00:07');
  assert.equal(formatTime(7.6, 'ceil'), '00:08');
  assert.equal(formatTime(3725), '1:02:05');
  assert.equal(formatTime(null), '--:--');
  assert.equal(itemSeconds({ frames: 500, fps: [50, 1] }), 10);
  assert.equal(itemSeconds({ frames: 1001, fps: [30000, 1001] }), 1001 * 1001 / 30000);
  assert.equal(itemSeconds({ clip: 'LOGO' }), null);
});

test('a timeline is kept beside the state: a same-boot snapshot keeps it, a restarted daemon drops it', async () => {
  const c = newClient();
  let ws = connected(c, 'b1', 40);
  let seen = 0;
  c.addEventListener('timeline', () => seen++);
  ws.recv({ type: 'timeline', planned_ms: 5, playlists: { main: { revision: 1, first: 0, entries: [], gaps: [] } } });
  assert.equal(seen, 1);
  assert.equal(c.timeline.planned_ms, 5);
  ws.recv(snapshot(41));
  assert.equal(c.timeline.planned_ms, 5, 'a resync of the same run does not make the plan wrong');
  ws.drop(1001);
  await tick();
  c.reconnectNow();
  ws = last();
  ws.open();
  ws.recv(hello('b2', 2));
  assert.equal(c.timeline, null, 'planned from revisions of another run');
});
