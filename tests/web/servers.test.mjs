// Unit tests of the page's words for a main/backup pair (assets/servers.js), the same as the
// console's (src/tui/servers.rs): the header's pills for a pair in step, with the backup down, and
// with the backup out of step, drifting and lacking clips; nothing for one server; the details of
// the servers dialog; the activity-log lines for a change; and the reducer keeping `link.servers`
// from a snapshot and a `link` event. Run by tests/web_e2e.rs with `node --test`; needs no browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  normalizeServers,
  serverChanges,
  serverDetails,
  serverPills,
} from '../../assets/servers.js';
import { applyEvent, fromSnapshot } from '../../assets/state.js';

/** The console's fixtures (src/tui/fixtures.rs, `pair`): the main leads, the backup 1 frame off. */
function pair() {
  const side = (name, role, address, extra) => ({
    name,
    role,
    address,
    connected: true,
    state: 'connected',
    server_version: '2.4.3 fd9168c73 Stable',
    lead: false,
    in_step: true,
    ...extra,
  });
  return normalizeServers([
    side('main', 'main', '10.0.0.1:5250', { lead: true }),
    side('backup', 'backup', '10.0.0.2:5250', { drift_frames: 1, resync_ms: 212 }),
  ]);
}

function backupDown() {
  const [main, backup] = pair();
  return [main, { ...backup, connected: false, in_step: false, drift_frames: null, state: 'down: connection refused' }];
}

function backupOutOfStep() {
  const [main, backup] = pair();
  return [main, { ...backup, in_step: false, note: 'PLAY failed: 404 PLAY FAILED', drift_frames: -3, missing: ['CLIP2', 'NEWS/OPENER'] }];
}

const link = (servers) => ({ connected: true, server_version: '2.4.3', state: 'connected', telemetry: 'osc', servers });
const pick = (pills, ...fields) => pills.map((p) => Object.fromEntries(fields.map((f) => [f, p[f]])));

test('a pair in step: the main leads, the backup is in step with its drift', () => {
  const pills = serverPills(link(pair()));
  assert.deepEqual(pick(pills, 'key', 'health', 'lead', 'warn', 'text'), [
    { key: 'server:main', health: 'step', lead: true, warn: false, text: 'main · lead' },
    { key: 'server:backup', health: 'step', lead: false, warn: false, text: 'backup · in step · drift +1f' },
  ]);
  assert.match(pills[1].title, /10\.0\.0\.2:5250/);
  assert.match(pills[1].title, /last caught up in 212 ms/);
});

test('one server shows no pills: the CasparCG pill says it all, as before pairs', () => {
  assert.deepEqual(serverPills(link(pair().slice(0, 1))), []);
  assert.deepEqual(serverPills(link([])), []);
});

test('a backup down shows its state; out of step shows the note, a high drift and the missing clips', () => {
  const down = serverPills(link(backupDown()));
  assert.deepEqual(pick(down, 'health', 'text'), [
    { health: 'step', text: 'main · lead' },
    { health: 'down', text: 'backup · down: connection refused' },
  ]);
  const out = serverPills(link(backupOutOfStep()));
  assert.deepEqual(pick(out, 'key', 'health', 'warn', 'label', 'drift'), [
    { key: 'server:main', health: 'step', warn: false, label: 'main · lead', drift: null },
    { key: 'server:backup', health: 'out', warn: true, label: 'backup · PLAY failed: 404 PLAY FAILED', drift: 'drift -3f' },
    { key: 'missing:backup', health: 'missing', warn: false, label: '2 clips missing on backup', drift: null },
  ]);
  assert.equal(out[2].title, 'Missing on backup: CLIP2, NEWS/OPENER');
  // Not live: the last known state, uncoloured.
  assert.ok(serverPills(link(backupOutOfStep()), false).every((p) => p.health === 'unknown' && !p.warn));
});

test('the dialog has each server in full', () => {
  const [main, backup] = backupOutOfStep();
  assert.deepEqual(serverDetails(main), [
    'main · 10.0.0.1:5250 · CasparCG 2.4.3 fd9168c73 Stable',
    'connected · lead (the daemon follows its telemetry) · in step',
    'every clip of the rundowns is there',
  ]);
  assert.equal(serverDetails({ ...main, name: 'caspar-a' })[0], 'caspar-a (main) · 10.0.0.1:5250 · CasparCG 2.4.3 fd9168c73 Stable');
  assert.deepEqual(serverDetails(backup), [
    'backup · 10.0.0.2:5250 · CasparCG 2.4.3 fd9168c73 Stable',
    'connected · out of step: PLAY failed: 404 PLAY FAILED',
    'drift -3 frames, behind the main · last caught up in 212 ms',
    '2 clips missing: CLIP2, NEWS/OPENER',
  ]);
});

test('the activity log names the side that changed', () => {
  const texts = (lines) => lines.map((l) => `${l.level}: ${l.text}`);
  assert.deepEqual(texts(serverChanges(pair(), backupDown())), ['warn: CasparCG backup down: connection refused']);
  const [main, backup] = pair();
  const catching = [main, { ...backup, in_step: false, note: "being brought to the other side's state" }];
  assert.deepEqual(texts(serverChanges(backupDown(), catching)), [
    "ok: CasparCG backup connected (2.4.3 fd9168c73 Stable), being brought to the other side's state",
  ]);
  assert.deepEqual(texts(serverChanges(catching, pair())), ['ok: CasparCG backup in step (caught up in 212 ms)']);
  assert.deepEqual(texts(serverChanges(pair(), backupOutOfStep())), [
    'warn: CasparCG backup out of step: PLAY failed: 404 PLAY FAILED',
    'warn: CasparCG backup lacks 2 clips: CLIP2, NEWS/OPENER',
  ]);
  assert.deepEqual(serverChanges(pair(), pair()), []);
  const mainDown = [
    { ...main, connected: false, in_step: false, lead: false, state: 'connecting (attempt 2)' },
    { ...backup, lead: true },
  ];
  assert.deepEqual(texts(serverChanges(pair(), mainDown)), [
    'warn: CasparCG main down: connecting (attempt 2)',
    'ok: CasparCG backup leads: the daemon follows its telemetry',
  ]);
  const bothDown = [mainDown[0], { ...mainDown[1], connected: false, in_step: false, state: 'down: timed out' }];
  assert.deepEqual(texts(serverChanges(mainDown, bothDown)), ['error: CasparCG backup down: timed out']);
});

test('the reducer keeps link.servers from a snapshot and a link event, and drops malformed entries', () => {
  const s = fromSnapshot({
    type: 'snapshot',
    seq: 1,
    state: { seq: 1, playlists: [], link: link([...pair(), 'junk', null]), media: {}, alarms: [], progress: {} },
  });
  assert.deepEqual(s.link.servers, pair());
  assert.equal(applyEvent(s, { type: 'event', seq: 2, kind: 'link', link: link(backupOutOfStep()) }), true);
  assert.deepEqual(s.link.servers[1].missing, ['CLIP2', 'NEWS/OPENER']);
  assert.equal(s.link.servers[1].drift_frames, -3);
  // An older daemon sends no servers: none, not a crash.
  assert.equal(applyEvent(s, { type: 'event', seq: 3, kind: 'link', link: { connected: true, state: 'connected' } }), true);
  assert.deepEqual(s.link.servers, []);
});
