// The web control page: renders the client's state and turns clicks and keys into commands.
//
// Every server-supplied string reaches the DOM through `textContent` or an attribute, never through
// `innerHTML`: a clip or title named `<img onerror=…>` is shown as text. Lists are updated in place
// by key (item id, clip name, alarm id) so that focus and scroll survive the 10 Hz progress and the
// events that other operators cause.

import { OnairClient } from './client.js';
import { h, reconcile, setHidden, setText, visible } from './dom.js';
import { channelGraphics, channelLabel, logoOff, logoState, takesData } from './graphics.js';
import { askMethod, askTemplateData } from './graphics-dialogs.js';
import { drawItemGraphics, renderGraphicsPanel } from './graphics-view.js';
import { serverChanges, serverDetails, serverPills, health as serverHealth, isPair } from './servers.js';
import { formatSpan, formatTime, itemSeconds, layerLabel, nextFixed, planDiff, planMark, playlistMarks, stationTime, takenOver, timelineEntry, unfilledGap } from './state.js';

const $ = (id) => document.getElementById(id);

/** Wall-clock time as operators read it, 24-hour, the same everywhere on the page. */
function clockTime(date) {
  return date.toLocaleTimeString([], { hour12: false });
}

// ---- token ----------------------------------------------------------------------------------------

const TOKEN_KEY = 'onair.token';

function storage(kind) {
  try {
    return kind === 'local' ? window.localStorage : window.sessionStorage;
  } catch {
    return null; // storage disabled (privacy settings): the token lives for this page only
  }
}

/** A token from `#token=…` (kiosk links: fragments never reach the server or its logs), else the
 * one kept for this tab, else the one remembered on this device. */
function loadToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('token');
  if (fromHash) {
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    storage('session')?.setItem(TOKEN_KEY, fromHash);
    return fromHash;
  }
  return storage('session')?.getItem(TOKEN_KEY) || storage('local')?.getItem(TOKEN_KEY) || null;
}

function saveToken(token, remember) {
  for (const kind of ['session', 'local']) storage(kind)?.removeItem(TOKEN_KEY);
  if (!token) return;
  storage('session')?.setItem(TOKEN_KEY, token);
  if (remember) storage('local')?.setItem(TOKEN_KEY, token);
}

// ---- client ---------------------------------------------------------------------------------------

const wsUrl = new URL('ws', document.baseURI);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
const client = new OnairClient({
  url: wsUrl.href,
  token: loadToken(),
  healthUrl: new URL('health/live', document.baseURI).href,
});

/** What this page shows and selects; not shared with other clients. */
const ui = {
  /** The playlist shown (null: the daemon's selected one). Viewing never changes the daemon's
   * selection, which other operators rely on; commands name the shown playlist explicitly. */
  viewId: null,
  /** The rundown item under the keyboard cursor. */
  cursorId: null,
  filter: '',
  lastStatus: null,
  tokenPrompted: false,
  /** The `link` last seen, to log what changed on the servers of a pair. */
  link: null,
};

// ---- rendering ------------------------------------------------------------------------------------

let renderQueued = false;
let rundownQueued = false;
let progressQueued = false;

/**
 * Coalesces bursts (a resume replay, progress at 10 Hz) into one render per frame. `rundown`
 * false leaves the rundown as it is: going over 10,000 rows for an alarm costs for nothing.
 */
function scheduleRender(progressOnly = false, rundown = !progressOnly) {
  if (!progressOnly) renderQueued = true;
  if (rundown) rundownQueued = true;
  progressQueued = true;
  if (scheduleRender.pending) return;
  scheduleRender.pending = true;
  requestAnimationFrame(() => {
    scheduleRender.pending = false;
    const full = renderQueued;
    const withRundown = rundownQueued;
    renderQueued = rundownQueued = progressQueued = false;
    if (full) render(withRundown);
    else renderProgress();
  });
}

/** Event kinds that change nothing in the rundown (a row's graphics are its item's events, not
 * what is live: that is the graphics panel's). */
const OUTSIDE_RUNDOWN = new Set(['alarm_raised', 'alarm_cleared', 'link', 'media', 'graphics']);
/** Event kinds about one playlist (by id in `playlist`) that change nothing but its rundown and
 * its on-air panel: another playlist's rundown stays as it is. */
const ONE_PLAYLIST = new Set(['item_added', 'item_updated', 'item_moved', 'item_removed', 'playout', 'missing']);

/** Whether the event a `change` applied (if any) may change the rundown shown. */
function touchesRundown(ev) {
  if (!ev) return true;
  if (OUTSIDE_RUNDOWN.has(ev.kind)) return false;
  return !ONE_PLAYLIST.has(ev.kind) || ev.playlist === shownPlaylist()?.id;
}

function shownPlaylist() {
  const { playlists, selected } = client.state;
  return (
    playlists.find((p) => p.id === ui.viewId) ||
    playlists.find((p) => p.id === selected) ||
    playlists[0] ||
    null
  );
}

function render(withRundown = true) {
  renderConnection();
  renderOnAir();
  renderSchedule();
  renderTransport();
  renderGraphics();
  if (withRundown) renderRundown();
  renderLibrary();
  renderAlarms();
  renderProgress();
}

const STATUS_TEXT = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  refused: 'Refused',
  stopped: 'Stopped',
};

function renderConnection() {
  const conn = $('conn');
  conn.dataset.state = client.status;
  conn.dataset.bootId = client.bootId ?? '';
  setText($('conn-text'), STATUS_TEXT[client.status] ?? client.status);
  const live = client.status === 'connected';
  $('main').classList.toggle('is-stale', !live && client.hasState);

  const link = client.state.link;
  const linkPill = $('link');
  if (!client.hasState) {
    linkPill.dataset.state = 'unknown';
    setText($('link-text'), 'CasparCG: unknown');
  } else if (link.connected) {
    linkPill.dataset.state = live ? 'up' : 'unknown';
    const version = link.server_version ? ` ${link.server_version.split(' ')[0]}` : '';
    const telemetry = { osc: 'OSC', info_polling: 'polling', none: 'no telemetry' }[link.telemetry] ?? link.telemetry;
    setText($('link-text'), `CasparCG${version} · ${telemetry}`);
    linkPill.title = `CasparCG link: ${link.state}${link.server_version ? ` (${link.server_version})` : ''}`;
  } else {
    linkPill.dataset.state = live ? 'down' : 'unknown';
    setText($('link-text'), `CasparCG: ${link.state || 'down'}`);
    linkPill.title = `CasparCG link: ${link.state}`;
  }
  renderServers(live);

  setHidden($('role'), !(client.role === 'viewer' && client.hasState));
  setText($('version'), client.serverVersion ? `onair ${client.serverVersion}` : 'onair');
  renderBanner();
}

/** The servers of a main/backup pair beside the CasparCG pill (nothing for one server): a pill
 * per side and per side that lacks clips, each opening the servers dialog. */
function renderServers(live) {
  const pills = client.hasState ? serverPills(client.state.link, live) : [];
  const byKey = new Map(pills.map((p) => [p.key, p]));
  const box = $('servers');
  setHidden(box, pills.length === 0);
  reconcile(
    box,
    pills.map((p) => p.key),
    () => {
      const b = h('button', { type: 'button', className: 'pill server' });
      b.refs = {
        dot: h('span', { className: 'dot', attrs: { 'aria-hidden': 'true' } }),
        label: h('span', { className: 'server-label' }),
        drift: h('span', { className: 'server-drift' }),
      };
      b.append(b.refs.dot, b.refs.label, b.refs.drift);
      return b;
    },
    (b) => {
      const p = byKey.get(b.dataset.key);
      b.dataset.kind = p.kind;
      b.dataset.health = p.health;
      b.classList.toggle('lead', p.lead);
      b.classList.toggle('drift-warn', p.warn);
      setText(b.refs.label, p.label);
      setText(b.refs.drift, p.drift ? ` · ${p.drift}` : '');
      if (b.title !== p.title) b.title = p.title;
    },
  );
  if ($('dlg-servers').open) renderServersDialog();
}

/** Each server in full, the clips it lacks by name. */
function renderServersDialog() {
  const servers = client.state.link.servers;
  const blocks = servers.map((s) => {
    const [head, ...rest] = serverDetails(s);
    return h(
      'section',
      { className: 'server-detail', dataset: { health: serverHealth(s) } },
      h('h3', { textContent: head }),
      ...rest.map((line) => h('p', { textContent: line })),
    );
  });
  if (servers.length === 0) blocks.push(h('p', { className: 'muted', textContent: 'The daemon has not reported its servers.' }));
  if (client.status !== 'connected') blocks.unshift(h('p', { className: 'muted', textContent: 'Last known state: the page is not connected to the daemon.' }));
  $('servers-detail').replaceChildren(...blocks);
}

function openServers() {
  renderServersDialog();
  $('dlg-servers').showModal();
}

/** Logs what changed on the servers of a pair since the `link` last seen (a `link` event, or the
 * snapshot after a reconnect); the first state the page gets is not news. */
function logServerChanges() {
  const link = client.state.link;
  if (!client.hasState || link === ui.link) return;
  const before = ui.link;
  ui.link = link;
  if (!before || !(isPair(before) || isPair(link))) return;
  for (const { level, text } of serverChanges(before.servers, link.servers)) log(level, text);
}

function renderBanner() {
  const banner = $('banner');
  const s = client.status;
  const show = s === 'reconnecting' || s === 'refused' || (s === 'syncing' && client.hasState) || s === 'stopped';
  setHidden(banner, !show);
  if (!show) return;
  banner.dataset.state = s;
  const wait = client.nextAttemptAt ? Math.max(0, Math.ceil((client.nextAttemptAt - Date.now()) / 1000)) : null;
  const retry = wait === null ? 'trying now…' : `retrying in ${wait} s (attempt ${client.attempt})`;
  let text;
  if (s === 'refused') {
    text = `The daemon refused the connection: it needs a token, or does not accept this one (or has too many clients). ${retry[0].toUpperCase()}${retry.slice(1)}.`;
  } else if (s === 'syncing') {
    text = 'Catching up with the daemon…';
  } else if (s === 'stopped') {
    text = 'Disconnected.';
  } else {
    const code = client.lastClose ? ` (${client.lastClose.code})` : '';
    text = `Connection to the daemon lost${code}. Showing the last known state; ${retry}`;
  }
  setText($('banner-text'), text);
  setHidden($('btn-banner-token'), s !== 'refused');
  setHidden($('btn-reconnect'), s === 'syncing');
}

const PLAYOUT_STATUS = { stopped: 'Stopped', playing: 'On air', paused: 'Paused', held: 'Held' };

function itemLabel(item) {
  return visible(item.title || item.clip);
}

function renderOnAir() {
  const pl = shownPlaylist();
  const status = $('status');
  if (!pl) {
    status.dataset.status = 'stopped';
    setText(status, client.hasState ? 'No playlist' : '–');
    setText($('onair-title'), client.hasState ? 'Nothing on air' : 'Waiting for the daemon…');
    setText($('onair-clip'), '');
    setText($('onair-playlist'), '');
    setText($('next-title'), '–');
    setHidden($('next-badge'), true);
    document.title = 'onair';
    return;
  }
  const po = pl.playout;
  status.dataset.status = po.status;
  setText(status, PLAYOUT_STATUS[po.status] ?? po.status);
  const marks = playlistMarks(pl);
  setText($('onair-playlist'), `${pl.name} · ${layerLabel(pl)}${marks ? ` · ${marks}` : ''}`);

  const index = pl.items.findIndex((i) => i.id === po.on_air);
  const item = index >= 0 ? pl.items[index] : null;
  // Stopped because the filler (or the next day's rundown) took the layer: not an empty channel.
  const over = takenOver(client.state, pl);
  const idle = over
    ? `Layer taken over${over.by ? ` by ${over.by.name}` : ''} after «${over.item ? itemLabel(over.item) : 'a removed item'}»`
    : 'Nothing on air';
  const title = item ? itemLabel(item) : po.on_air ? `item ${po.on_air}` : idle;
  setText($('onair-title'), title);
  $('onair-title').classList.toggle('is-idle', !po.on_air);
  const since = po.on_air_since_ms ? ` · since ${clockTime(new Date(po.on_air_since_ms))}` : '';
  setText($('onair-clip'), item ? `${item.clip} · #${index + 1}${since}` : '');

  const nextId = po.cued ?? po.next;
  const next = pl.items.find((i) => i.id === nextId);
  setText($('next-title'), next ? itemLabel(next) : nextId ? `item ${nextId}` : '–');
  const badge = po.cued ? (po.armed_auto ? 'armed: starts by itself' : 'cued') : '';
  setText($('next-badge'), badge);
  setHidden($('next-badge'), !badge);
  document.title = po.on_air && po.status !== 'stopped' ? `● ${title} · onair` : 'onair';
}

function renderProgress() {
  const pl = shownPlaylist();
  const p = pl && pl.playout.on_air ? client.state.progress[pl.id] : null;
  const bar = $('progress');
  const live = client.status === 'connected';
  if (!p) {
    bar.setAttribute('aria-valuenow', '0');
    bar.dataset.elapsed = '';
    $('progress-bar').style.width = '0%';
    setText($('elapsed'), '--:--');
    setText($('remaining'), '--:--');
    setText($('rundown-remaining'), '--:--');
    // Else an item stopped in its last 10 s (or whose layer was taken over) leaves the dashes amber.
    $('remaining').classList.remove('is-low');
    setHidden($('stale'), true);
    bar.classList.remove('is-stale');
    return;
  }
  const pct = p.duration > 0 ? Math.min(100, Math.max(0, (p.elapsed / p.duration) * 100)) : 0;
  $('progress-bar').style.width = `${pct.toFixed(2)}%`;
  bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  bar.setAttribute('aria-valuetext', `${formatTime(p.elapsed)} of ${formatTime(p.duration)}`);
  bar.dataset.elapsed = String(p.elapsed);
  setText($('elapsed'), formatTime(p.elapsed));
  setText($('remaining'), `-${formatTime(p.remaining, 'ceil')}`);
  setText($('rundown-remaining'), formatTime(p.rundown_remaining, 'ceil'));
  // Stale numbers are shown as stale, never as if they were live (design.md §8).
  const stale = !p.fresh || !live;
  setHidden($('stale'), !stale);
  bar.classList.toggle('is-stale', stale);
  $('remaining').classList.toggle('is-low', p.remaining <= 10 && pl.playout.status === 'playing');
}

/** The graphics panel of the shown playlist's channel. */
function renderGraphics() {
  renderGraphicsPanel(client.state, shownPlaylist(), client.role !== 'viewer', client.canCommand, client.hasState);
}

function renderTransport() {
  const pl = shownPlaylist();
  const can = client.canCommand && !!pl;
  const po = pl?.playout;
  const has = !!pl && pl.items.length > 0;
  const buttons = $('transport').querySelectorAll('button[data-action]');
  for (const b of buttons) {
    let enabled = can;
    switch (b.dataset.action) {
      case 'cue':
      case 'take':
        enabled = can && has;
        break;
      case 'next':
        enabled = can && has;
        break;
      case 'pause':
        enabled = can && (po.status === 'playing' || po.status === 'paused');
        setText(b.querySelector('.pause-label'), po?.status === 'paused' ? 'Resume' : 'Pause');
        break;
      case 'stop':
        enabled = can && po.status !== 'stopped';
        break;
      case 'autoplay':
        b.setAttribute('aria-pressed', String(!!pl?.autoplay));
        break;
      default:
        break;
    }
    if (b.disabled === enabled) b.disabled = !enabled;
  }
  $('btn-rescan').disabled = !client.canCommand;
}

function makeItemRow() {
  const refs = {
    idx: h('span', { className: 'idx' }),
    title: h('span', { className: 'title' }),
    sub: h('span', { className: 'sub' }),
    gfx: h('span', { className: 'gfx', hidden: true }),
    dur: h('span', { className: 'dur' }),
    pdiff: h('span', { className: 'plan-diff' }),
    pstart: h('span', { className: 'plan-start' }),
    badges: h('span', { className: 'badges' }),
    take: h('button', { type: 'button', className: 'icon take', textContent: '▶', dataset: { act: 'take' } }),
    cue: h('button', { type: 'button', className: 'icon', textContent: 'Cue', dataset: { act: 'cue' } }),
    up: h('button', { type: 'button', className: 'icon', textContent: '↑', dataset: { act: 'up' } }),
    down: h('button', { type: 'button', className: 'icon', textContent: '↓', dataset: { act: 'down' } }),
    remove: h('button', { type: 'button', className: 'icon danger', textContent: '✕', dataset: { act: 'remove' } }),
  };
  const row = h(
    'li',
    { className: 'item' },
    refs.idx,
    h('span', { className: 'meta' }, refs.title, refs.sub),
    h('span', { className: 'plan' }, refs.pdiff, refs.pstart),
    refs.dur,
    refs.badges,
    h('span', { className: 'row-actions' }, refs.take, refs.cue, refs.up, refs.down, refs.remove),
    refs.gfx,
  );
  row.refs = refs;
  return row;
}

/**
 * Draws one rundown row, unless everything it shows is as it was last drawn: with 10,000 items an
 * event then redraws the rows it touched, not every row (writing even an unchanged value into the
 * DOM costs style work). `missing` is the set of the playlist's missing item ids.
 */
function updateItemRow(row, item, i, pl, can, operator, missing, view) {
  drawPlan(row, timelineEntry(view, pl, i));
  const po = pl.playout;
  const onAir = item.id === po.on_air;
  const cued = item.id === po.cued;
  const next = !cued && item.id === po.next && !onAir;
  const flags =
    (onAir ? 1 : 0) |
    (onAir && po.status === 'paused' ? 2 : 0) |
    (cued ? 4 : 0) |
    (cued && po.armed_auto ? 8 : 0) |
    (next ? 16 : 0) |
    (missing.has(item.id) ? 32 : 0) |
    (item.id === ui.cursorId ? 64 : 0) |
    (can ? 128 : 0) |
    (i === 0 ? 256 : 0) |
    (i === pl.items.length - 1 ? 512 : 0) |
    (operator ? 1024 : 0);
  const fps = Array.isArray(item.fps) ? item.fps : [];
  const was = row.drawn;
  // The row number alone changes for every row below an insert or a removal: only the number is
  // written then.
  if (was && was.flags === flags && was.title === item.title && was.clip === item.clip && was.frames === item.frames &&
      was.fps0 === fps[0] && was.fps1 === fps[1] && was.loop === item.loop && was.graphics === item.graphics) {
    if (was.i !== i) {
      setText(row.refs.idx, i + 1);
      was.i = i;
    }
    return;
  }
  row.drawn = { flags, i, title: item.title, clip: item.clip, frames: item.frames, fps0: fps[0], fps1: fps[1], loop: item.loop, graphics: item.graphics };
  const r = row.refs;
  const label = itemLabel(item);
  setText(r.idx, i + 1);
  setText(r.title, label);
  setText(r.sub, item.title ? item.clip : '');
  const secs = itemSeconds(item); // none for stills and clips CasparCG has not listed
  setText(r.dur, secs === null ? '—' : formatTime(secs));
  const badges = [];
  let state = '';
  if (onAir) {
    badges.push(['on-air', po.status === 'paused' ? 'PAUSED' : 'ON AIR']);
    state = 'on-air';
  }
  if (cued) {
    badges.push(['cued', po.armed_auto ? 'ARMED' : 'CUED']);
    state ||= 'cued';
  } else if (next) {
    badges.push(['next', 'NEXT']);
    state ||= 'next';
  }
  if (missing.has(item.id)) badges.push(['missing', 'MISSING']);
  if (item.loop) badges.push(['loop', 'LOOP']);
  if (logoOff(item)) badges.push(['no-logo', 'NO LOGO']);
  const sig = badges.map((b) => b.join(':')).join(',');
  if (r.badges.dataset.sig !== sig) {
    r.badges.dataset.sig = sig;
    r.badges.replaceChildren(...badges.map(([cls, text]) => h('span', { className: `badge ${cls}`, textContent: text })));
  }
  row.dataset.state = state;
  const isCursor = item.id === ui.cursorId;
  row.classList.toggle('cursor', isCursor);
  if (isCursor) row.setAttribute('aria-current', 'true');
  else row.removeAttribute('aria-current');
  r.take.setAttribute('aria-label', `Take ${label}`);
  r.take.title = `Take ${label} now`;
  r.cue.setAttribute('aria-label', `Cue ${label}`);
  r.up.setAttribute('aria-label', `Move ${label} up`);
  r.down.setAttribute('aria-label', `Move ${label} down`);
  r.remove.setAttribute('aria-label', `Remove ${label}`);
  r.take.disabled = !can;
  r.cue.disabled = !can;
  r.up.disabled = !can || i === 0;
  r.down.disabled = !can || i === pl.items.length - 1;
  r.remove.disabled = !can;
  drawItemGraphics(r.gfx, item, label, operator, can);
}

function renderRundown() {
  const pl = shownPlaylist();
  const playlists = client.state.playlists;
  const picker = $('playlist-picker');
  setHidden(picker, playlists.length < 2);
  const select = $('playlist-select');
  const label = (p) => `${p.name} (${layerLabel(p)})${playlistMarks(p) ? ` · ${playlistMarks(p)}` : ''}`;
  const sig = playlists.map((p) => `${p.id}\u0000${label(p)}`).join('\u0001');
  if (select.dataset.sig !== sig) {
    // Rebuilt only when the list changed, so an open drop-down is not disturbed by events.
    select.dataset.sig = sig;
    select.replaceChildren(...playlists.map((p) => h('option', { value: p.id, textContent: label(p) })));
  }
  // With one playlist there is no picker to say its role: a badge does.
  const marks = playlistMarks(pl);
  setText($('rundown-role'), marks);
  setHidden($('rundown-role'), !marks || playlists.length >= 2);
  if (pl && select.value !== pl.id) select.value = pl.id;

  const items = pl ? pl.items : [];
  if (ui.cursorId && !items.some((i) => i.id === ui.cursorId)) ui.cursorId = null;
  const can = client.canCommand;
  const operator = client.role !== 'viewer';
  const missing = new Set(pl ? pl.missing : []);
  const view = planOf(pl);
  reconcile(
    $('items'),
    items.map((i) => i.id),
    makeItemRow,
    (row, i) => updateItemRow(row, items[i], i, pl, can, operator, missing, view),
  );
  // Rows gone from the list no longer count as showing a plan.
  for (const row of planRows) if (!row.isConnected) planRows.delete(row);
  setHidden($('items-empty'), items.length > 0 || !client.hasState);
  if (pl) {
    const total = items.reduce((s, i) => s + (itemSeconds(i) ?? 0), 0);
    const flags = [pl.autoplay ? 'autoplay' : 'manual', pl.loop ? 'loop' : null].filter(Boolean).join(', ');
    setText($('rundown-meta'), `${items.length} item${items.length === 1 ? '' : 's'} · ${formatTime(total)} · ${flags}`);
  } else {
    setText($('rundown-meta'), '');
  }
}

// ---- the planned timeline -------------------------------------------------------------------------

/** The rows that show a planned start or difference now: a new timeline clears the ones it no
 * longer covers without visiting all 10,000 rows. */
const planRows = new Set();

/** The shown playlist's timeline, if the daemon planned one. */
function planOf(pl) {
  return (pl && client.timeline?.playlists[pl.id]) || null;
}

function stationOffset() {
  return client.timeline?.station?.utc_offset_s ?? 0;
}

/** Writes a row's plan cells (`✂ -00:12` / `+00:10` / `-00:05`, then `H 13:35:04`), only when
 * they changed. */
function drawPlan(row, e) {
  const diff = planDiff(e);
  const mark = planMark(e);
  const start = e && e.start_ms != null ? stationTime(e.start_ms, stationOffset()) : mark ? '--:--:--' : '';
  const sig = e ? `${diff?.kind ?? ''}|${diff?.text ?? ''}|${mark}|${start}` : '';
  if (row.planSig === sig) return;
  row.planSig = sig;
  const r = row.refs;
  setText(r.pdiff, diff?.text ?? '');
  r.pdiff.dataset.kind = diff?.kind ?? '';
  setText(r.pstart, start ? `${mark || ' '} ${start}` : '');
  r.pstart.dataset.mark = mark;
  if (sig) planRows.add(row);
  else planRows.delete(row);
}

/**
 * A new timeline: only the rows of its window (at most 1,000) and those that showed the previous
 * one are written, never the whole rundown. A row whose item is not the entry's (the list is
 * about to be redrawn) is left to that redraw.
 */
function renderPlan() {
  const pl = shownPlaylist();
  const view = planOf(pl);
  const rows = $('items').children;
  const drawn = new Set();
  if (view && pl) {
    view.entries.forEach((e, k) => {
      const row = rows[view.first + k];
      if (row && row.key === e.item) {
        drawPlan(row, timelineEntry(view, pl, view.first + k));
        drawn.add(row);
      }
    });
  }
  for (const row of [...planRows]) if (!drawn.has(row)) drawPlan(row, null);
  renderSchedule();
}

/** The station clock, the next fixed-time item with its count-down, and an unfilled gap ahead;
 * run every second from the page's clock (a few text nodes, no layout of the rundown). */
function renderSchedule() {
  const now = Date.now();
  const station = client.timeline?.station;
  const sc = $('station-clock');
  setHidden(sc, !station);
  if (station) {
    setText(sc, `${stationTime(now, station.utc_offset_s)} ${station.timezone}`);
    sc.title = `Station time (${station.timezone}), channel day ${station.air_date}`;
  }
  const pl = shownPlaylist();
  const view = planOf(pl);
  const live = client.status === 'connected';
  const next = nextFixed(view, now);
  setHidden($('fixed-line'), !next);
  if (next) {
    const item = pl.items.find((i) => i.id === next.item);
    setText($('fixed-mark'), next.hard ? 'HARD' : 'SOFT');
    $('fixed-mark').dataset.mark = next.hard ? 'H' : 'S';
    setText($('fixed-title'), item ? itemLabel(item) : `item ${next.item}`);
    setText($('fixed-at'), stationTime(next.start_ms, stationOffset()));
    // Not live: the plan may be outdated, so no count-down that looks current.
    setText($('fixed-countdown'), live ? `-${formatTime(next.left_ms / 1000, 'ceil')}` : '--:--');
  }
  const gap = unfilledGap(view, now);
  setHidden($('gap-warning'), !gap);
  if (gap) {
    const before = gap.before ? pl.items.find((i) => i.id === gap.before) : null;
    const where = before ? `before ${itemLabel(before)}` : 'after the rundown';
    setText($('gap-warning'), `Unfilled gap of ${formatSpan(gap.length_ms)} at ${stationTime(gap.start_ms, stationOffset())} ${where}: the channel would go black`);
  }
}

/** Rendering thousands of clips helps nobody; the filter narrows the list. */
const MAX_CLIPS_SHOWN = 300;

function makeClipRow() {
  const refs = {
    name: h('span', { className: 'clip-name' }),
    info: h('span', { className: 'clip-info' }),
    add: h('button', { type: 'button', className: 'add small', textContent: 'Add', dataset: { act: 'add' } }),
  };
  const row = h('li', { className: 'clip' }, h('span', { className: 'meta' }, refs.name, refs.info), refs.add);
  row.refs = refs;
  return row;
}

function filteredClips() {
  const f = ui.filter.trim().toLowerCase();
  const clips = client.state.media.clips;
  return f ? clips.filter((c) => c.name.toLowerCase().includes(f)) : clips;
}

function renderLibrary() {
  const media = client.state.media;
  const clips = filteredClips();
  const shown = clips.slice(0, MAX_CLIPS_SHOWN);
  const can = client.canCommand && !!shownPlaylist();
  const byName = new Map(shown.map((c) => [c.name, c]));
  reconcile(
    $('clips'),
    shown.map((c) => c.name),
    makeClipRow,
    (row) => {
      const c = byName.get(row.dataset.key);
      setText(row.refs.name, c.name);
      setText(row.refs.info, `${c.kind.toLowerCase()}${c.duration != null ? ` · ${formatTime(c.duration)}` : ''}`);
      row.refs.add.setAttribute('aria-label', `Add ${c.name} to the rundown`);
      row.refs.add.disabled = !can;
    },
  );
  const more = clips.length - shown.length;
  let meta = `${media.clips.length} clip${media.clips.length === 1 ? '' : 's'}`;
  if (ui.filter.trim()) meta = `${clips.length} of ${meta}`;
  if (more > 0) meta += ` (first ${shown.length} shown)`;
  setText($('library-meta'), client.hasState ? meta : '');
  setHidden($('clips-empty'), shown.length > 0 || !client.hasState);
  setText($('clips-empty'), ui.filter.trim() ? 'No clip matches the filter.' : 'The media library is empty.');
  setHidden($('library-error'), !media.error);
  setText($('library-error'), media.error ? `Media scan failed: ${media.error}` : '');
}

function renderAlarms() {
  const alarms = [...client.state.alarms].sort(
    (a, b) => (a.severity === 'critical' ? 0 : 1) - (b.severity === 'critical' ? 0 : 1) || (b.raised_ms ?? 0) - (a.raised_ms ?? 0),
  );
  const byId = new Map(alarms.map((a) => [String(a.id), a]));
  reconcile(
    $('alarm-list'),
    alarms.map((a) => String(a.id)),
    () => {
      const row = h('li', { className: 'alarm' });
      row.refs = { sev: h('span', { className: 'sev' }), kind: h('span', { className: 'kind' }), time: h('time'), msg: h('span', { className: 'msg' }) };
      row.append(row.refs.sev, row.refs.kind, row.refs.time, row.refs.msg);
      return row;
    },
    (row) => {
      const a = byId.get(row.dataset.key);
      const sev = a.severity === 'critical' ? 'critical' : 'warning';
      row.dataset.severity = sev;
      setText(row.refs.sev, sev.toUpperCase());
      setText(row.refs.kind, String(a.kind ?? ''));
      setText(row.refs.time, typeof a.raised_ms === 'number' ? clockTime(new Date(a.raised_ms)) : '');
      setText(row.refs.msg, String(a.message ?? ''));
    },
  );
  setHidden($('alarms-empty'), alarms.length > 0);
  const pill = $('alarm-pill');
  setHidden(pill, alarms.length === 0);
  if (alarms.length > 0) {
    pill.dataset.severity = alarms[0].severity === 'critical' ? 'critical' : 'warning';
    setText(pill, `${alarms.length} alarm${alarms.length === 1 ? '' : 's'}`);
  }
}

// ---- activity log and errors ----------------------------------------------------------------------

const MAX_LOG = 60;

function log(level, text) {
  const entry = h(
    'li',
    { className: `log-entry ${level}` },
    h('time', { textContent: clockTime(new Date()) }),
    h('span', { className: 'text', textContent: text }),
  );
  const list = $('log');
  list.prepend(entry);
  while (list.children.length > MAX_LOG) list.lastElementChild.remove();
  return entry;
}

function updateLog(entry, level, text) {
  entry.className = `log-entry ${level}`;
  setText(entry.querySelector('.text'), text);
}

let toastTimer = null;

/** Errors must be seen: the toast is announced (role=alert) and stays a few seconds. */
function toast(text) {
  const t = $('toast');
  setText(t, text);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.hidden = true;
  }, 8000);
}

/** Runs a command; its ack (or why there was none) lands in the activity log, errors also in a toast. */
async function run(label, op, args = {}) {
  const entry = log('pending', `${label}…`);
  try {
    const ack = await client.command(op, args);
    if (ack.ok) {
      updateLog(entry, 'ok', `${label}: done`);
      return ack;
    }
    const err = ack.error ?? {};
    const text = `${label} failed: ${err.message ?? 'error'} [${err.code ?? 'error'}]`;
    updateLog(entry, 'error', text);
    toast(text);
  } catch (e) {
    const text = `${label}: ${e.message}`;
    updateLog(entry, 'error', text);
    toast(text);
  }
  return null;
}

// ---- actions --------------------------------------------------------------------------------------

function confirmDialog(text, okLabel) {
  const dlg = $('dlg-confirm');
  setText($('confirm-text'), text);
  setText($('confirm-ok'), okLabel);
  dlg.returnValue = '';
  dlg.showModal();
  // Cancel has the focus first, so a stray Enter never confirms a destructive action.
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

/** Why commands cannot be sent now. */
function blockedText() {
  return client.status !== 'connected' ? 'Not connected to the daemon: nothing was sent.' : 'This token is read-only (viewer).';
}

/** Whether commands cannot be sent now, told to the operator instead of a key that does nothing. */
function blocked() {
  if (client.canCommand) return false;
  toast(blockedText());
  return true;
}

/** For a dialog that sends a command: it stays open, with the reason, while none can be sent. */
const SEND_GATE = { canSend: () => client.canCommand, blockedText };

function cursorItem(pl) {
  return pl?.items.find((i) => i.id === ui.cursorId) ?? null;
}

async function action(name) {
  const pl = shownPlaylist();
  if (!pl || blocked()) return;
  const playlist = pl.id;
  switch (name) {
    case 'take':
      return run('Take', 'playout.take', { playlist });
    case 'cue': {
      // The selected item if there is one (as in the console), else whatever is next.
      const item = cursorItem(pl);
      return item
        ? run(`Cue ${itemLabel(item)}`, 'playout.cue', { playlist, item: item.id })
        : run('Cue next', 'playout.cue', { playlist });
    }
    case 'next':
      return run('Next', 'playout.next', { playlist });
    case 'previous':
      return run('Previous', 'playout.previous', { playlist });
    case 'pause':
      if (pl.playout.status === 'paused') return run('Resume', 'playout.resume', { playlist });
      if (pl.playout.status === 'playing') return run('Pause', 'playout.pause', { playlist });
      return undefined;
    case 'stop':
      if (await confirmDialog(`Stop "${pl.name}"? This takes ${layerLabel(pl)} off air.`, 'Stop')) {
        return run('Stop', 'playout.stop', { playlist });
      }
      return undefined;
    case 'autoplay':
      return run(`Autoplay ${pl.autoplay ? 'off' : 'on'}`, 'playout.autoplay', { playlist, enabled: !pl.autoplay });
    case 'rescan':
      return run('Rescan media', 'media.rescan');
    default:
      return undefined;
  }
}

async function itemAction(act, itemId) {
  const pl = shownPlaylist();
  if (!pl || blocked()) return;
  const index = pl.items.findIndex((i) => i.id === itemId);
  if (index < 0) return;
  const item = pl.items[index];
  const label = itemLabel(item);
  const playlist = pl.id;
  ui.cursorId = itemId;
  scheduleRender();
  switch (act) {
    case 'take':
      await run(`Take ${label}`, 'playout.take', { playlist, item: itemId });
      break;
    case 'cue':
      await run(`Cue ${label}`, 'playout.cue', { playlist, item: itemId });
      break;
    case 'up':
      if (index > 0) await run(`Move ${label} up`, 'item.move', { playlist, item: itemId, index: index - 1 });
      break;
    case 'down':
      if (index < pl.items.length - 1) await run(`Move ${label} down`, 'item.move', { playlist, item: itemId, index: index + 1 });
      break;
    case 'remove': {
      const onAir = pl.playout.on_air === itemId ? ' It is on air now.' : '';
      if (await confirmDialog(`Remove "${label}" from the rundown?${onAir}`, 'Remove')) {
        await run(`Remove ${label}`, 'item.remove', { playlist, item: itemId });
      }
      break;
    }
    default:
      break;
  }
}

/** Shows an item's secondary event now (docs/graphics.md, "By hand"). */
async function fireEvent(itemId, eventId) {
  const pl = shownPlaylist();
  if (!pl || blocked()) return;
  const item = pl.items.find((i) => i.id === itemId);
  if (!item) return;
  ui.cursorId = itemId;
  scheduleRender();
  await run(`Fire ${visible(eventId)} on ${itemLabel(item)}`, 'graphics.fire', { playlist: pl.id, item: itemId, event: eventId });
}

/**
 * What is live on `layer` of the shown playlist's channel, for a command about it: `{pl, g,
 * playlist}`, `playlist` being the one that put it there when the page knows it (the filler's
 * logo on the same channel; any playlist of the channel names the same layer). Null when there is
 * nothing, or commands cannot be sent now (said to the operator).
 */
function liveGraphic(layer) {
  const pl = shownPlaylist();
  if (!pl || blocked()) return null;
  const g = channelGraphics(client.state, pl).find((x) => x.layer === layer);
  if (!g) return null;
  const playlist = client.state.playlists.some((p) => p.id === g.playlist) ? g.playlist : pl.id;
  return { pl, g, playlist };
}

/** Takes what shows on a graphics layer of the shown playlist's channel off, once confirmed. */
async function clearGraphic(layer) {
  const live = liveGraphic(layer);
  if (!live) return;
  const { pl, g, playlist } = live;
  const what = `${visible(g.name)} (${visible(g.label)})`;
  const logo = g.name === 'logo' ? ' The logo stays off until it is put back.' : '';
  if (!(await confirmDialog(`Clear ${what} from layer ${layer} of ${channelLabel(pl)}? It goes off air now.${logo}`, 'Clear'))) return;
  await run(`Clear layer ${layer} (${visible(g.name)})`, 'graphics.clear', { playlist, layer });
}

/** New data for the template on a graphics layer (`graphics.update`), typed in the Update
 * dialog, which starts from the data as on air. */
async function updateGraphic(layer) {
  const live = liveGraphic(layer);
  if (!live || !takesData(live.g)) return;
  const { pl, g, playlist } = live;
  const answer = await askTemplateData(`${visible(g.label)} (${visible(g.name)}) on layer ${layer} of ${channelLabel(pl)}`, g.data, SEND_GATE);
  if (answer) await run(`Update layer ${layer} (${visible(g.name)})`, 'graphics.update', { playlist, layer, data: answer.data });
}

/** Calls a function of the template on a graphics layer (`graphics.invoke`), named in the Invoke
 * dialog. */
async function invokeGraphic(layer) {
  const live = liveGraphic(layer);
  if (!live || !takesData(live.g)) return;
  const { pl, g, playlist } = live;
  const answer = await askMethod(`${visible(g.label)} (${visible(g.name)}) on layer ${layer} of ${channelLabel(pl)}`, g.label, SEND_GATE);
  if (answer) await run(`Invoke ${visible(answer.method)} on layer ${layer} (${visible(g.name)})`, 'graphics.invoke', { playlist, layer, method: answer.method });
}

/** The shown playlist's logo off (it stays off across items and restarts) or back on. */
async function toggleLogo() {
  const pl = shownPlaylist();
  if (!pl || blocked()) return;
  const logo = logoState(client.state, pl);
  if (!logo) return;
  await run(`Logo ${logo.on ? 'off' : 'on'}`, 'graphics.logo', { playlist: pl.id, enabled: !logo.on });
}

async function addClip(name) {
  const pl = shownPlaylist();
  if (!pl || blocked()) return;
  const ack = await run(`Add ${name}`, 'item.add', { playlist: pl.id, clip: name });
  // The ack names the new item; the event that adds it came before the ack, and if it did not
  // (another order), the cursor simply lands when it arrives.
  if (ack && typeof ack.item === 'string') {
    ui.cursorId = ack.item;
    scheduleRender();
  }
}

function moveCursor(delta) {
  const pl = shownPlaylist();
  if (!pl || pl.items.length === 0) return;
  let i = pl.items.findIndex((x) => x.id === ui.cursorId);
  if (i < 0) {
    const anchor = pl.items.findIndex((x) => x.id === (pl.playout.on_air ?? pl.playout.next));
    i = anchor >= 0 ? anchor : delta > 0 ? -1 : pl.items.length;
  }
  const j = Math.min(pl.items.length - 1, Math.max(0, i + delta));
  ui.cursorId = pl.items[j].id;
  render();
  document.querySelector(`#items > li.cursor`)?.scrollIntoView({ block: 'nearest' });
}

function cyclePlaylist(delta) {
  const list = client.state.playlists;
  if (list.length < 2) return;
  const i = list.findIndex((p) => p.id === shownPlaylist()?.id);
  ui.viewId = list[(i + delta + list.length) % list.length].id;
  ui.cursorId = null;
  render();
}

function openTokenDialog(reason) {
  const dlg = $('dlg-token');
  if (dlg.open) return;
  setText(
    $('token-why'),
    reason || 'An operator token controls playout; a viewer token only reads. Leave empty to connect without one.',
  );
  $('token-input').value = '';
  $('token-remember').checked = !!storage('local')?.getItem(TOKEN_KEY);
  dlg.showModal();
  $('token-input').focus();
}

// ---- wiring ---------------------------------------------------------------------------------------

client.addEventListener('change', (e) => {
  const s = client.status;
  if (s !== ui.lastStatus) {
    if (s === 'connected') {
      log('ok', `Connected to onair ${client.serverVersion ?? ''} as ${client.role} (boot ${client.bootId})`);
      ui.tokenPrompted = false;
    } else if (s === 'reconnecting' && ui.lastStatus === 'connected') {
      const code = client.lastClose ? ` (${client.lastClose.code}${client.lastClose.reason ? `: ${client.lastClose.reason}` : ''})` : '';
      log('warn', `Connection lost${code}; reconnecting`);
    } else if (s === 'refused' && !ui.tokenPrompted) {
      ui.tokenPrompted = true;
      log('error', 'The daemon refused the connection (token?)');
      openTokenDialog('The daemon refused the connection. Enter an operator or viewer token.');
    }
    ui.lastStatus = s;
  }
  logServerChanges();
  scheduleRender(false, touchesRundown(e.detail));
});
client.addEventListener('progress', () => scheduleRender(true));
client.addEventListener('timeline', () => {
  // At most once a second; coalesced with whatever else renders in this frame.
  if (renderPlan.pending) return;
  renderPlan.pending = true;
  requestAnimationFrame(() => {
    renderPlan.pending = false;
    renderPlan();
  });
});
client.addEventListener('notice', (e) => {
  const { level, text } = e.detail;
  log(level === 'info' ? 'ok' : level, text);
  if (level === 'error') toast(text);
});

$('transport').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (b && !b.disabled) action(b.dataset.action);
});

$('items').addEventListener('click', (e) => {
  const row = e.target.closest('li[data-key]');
  if (!row) return;
  const b = e.target.closest('button[data-act]');
  if (b) {
    if (b.disabled) return;
    if (b.dataset.act === 'fire') fireEvent(row.dataset.key, b.dataset.event);
    else itemAction(b.dataset.act, row.dataset.key);
    return;
  }
  ui.cursorId = row.dataset.key;
  render();
});

$('clips').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-act="add"]');
  const row = e.target.closest('li[data-key]');
  if (b && row && !b.disabled) addClip(row.dataset.key);
});

$('filter').addEventListener('input', (e) => {
  ui.filter = e.target.value;
  renderLibrary();
});
$('filter').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    const first = filteredClips()[0];
    if (first) addClip(first.name);
  } else if (e.key === 'Escape') {
    e.target.value = '';
    ui.filter = '';
    renderLibrary();
    e.target.blur();
  }
});

$('playlist-select').addEventListener('change', (e) => {
  ui.viewId = e.target.value;
  ui.cursorId = null;
  render();
});

const GRAPHIC_ACTIONS = { clear: clearGraphic, update: updateGraphic, invoke: invokeGraphic };
$('gfx-list').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-act][data-layer]');
  if (b && !b.disabled) GRAPHIC_ACTIONS[b.dataset.act]?.(Number(b.dataset.layer));
});
$('btn-logo').addEventListener('click', (e) => {
  if (!e.currentTarget.disabled) toggleLogo();
});

$('btn-rescan').addEventListener('click', () => action('rescan'));
$('btn-reconnect').addEventListener('click', () => client.reconnectNow());
$('btn-help').addEventListener('click', () => $('dlg-help').showModal());
$('servers').addEventListener('click', (e) => {
  if (e.target.closest('button')) openServers();
});
$('btn-token').addEventListener('click', () => openTokenDialog());
$('btn-banner-token').addEventListener('click', () => openTokenDialog());
$('token-cancel').addEventListener('click', () => $('dlg-token').close());
$('token-forget').addEventListener('click', () => {
  saveToken(null, false);
  $('dlg-token').close();
  log('ok', 'Token forgotten; reconnecting without one');
  client.setToken(null);
});
$('token-form').addEventListener('submit', () => {
  const token = $('token-input').value.trim();
  saveToken(token, $('token-remember').checked);
  log('ok', token ? 'Reconnecting with the new token' : 'Reconnecting without a token');
  client.setToken(token);
});

const KEY_ACTIONS = { c: 'cue', n: 'next', b: 'previous', p: 'pause', s: 'stop', a: 'autoplay', r: 'rescan' };

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.querySelector('dialog[open]')) return; // dialogs handle their own keys
  const target = e.target instanceof Element ? e.target : null;
  if (target?.closest('input, textarea, select, [contenteditable="true"]')) return; // typing
  // Space and Enter keep their meaning on a focused button or link (accessibility first).
  const onControl = !!target?.closest('button, a[href], summary');
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const pl = shownPlaylist();
  let handled = true;
  switch (key) {
    case ' ':
      if (onControl) return;
      action('take');
      break;
    case 'Enter': {
      if (onControl) return;
      const item = cursorItem(pl);
      if (item) itemAction('take', item.id);
      break;
    }
    case 'ArrowDown':
      moveCursor(1);
      break;
    case 'ArrowUp':
      moveCursor(-1);
      break;
    case 'j':
    case 'k': {
      const delta = key === 'j' ? 1 : -1;
      if (e.shiftKey) {
        const item = cursorItem(pl);
        if (item) itemAction(delta > 0 ? 'down' : 'up', item.id);
      } else {
        moveCursor(delta);
      }
      break;
    }
    case 'd':
    case 'Delete': {
      const item = cursorItem(pl);
      if (item) itemAction('remove', item.id);
      break;
    }
    case '/':
      $('filter').focus();
      $('filter').select();
      break;
    case '?':
      $('dlg-help').showModal();
      break;
    case 'v':
      openServers();
      break;
    case '[':
      cyclePlaylist(-1);
      break;
    case ']':
      cyclePlaylist(1);
      break;
    default:
      if (KEY_ACTIONS[key] && !e.shiftKey) action(KEY_ACTIONS[key]);
      else handled = false;
  }
  if (handled) e.preventDefault();
});

// The network came back or the tab was woken up: do not wait out the backoff.
window.addEventListener('online', () => {
  if (client.status !== 'connected') client.reconnectNow();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && (client.status === 'reconnecting' || client.status === 'refused')) {
    client.reconnectNow();
  }
});

function tick() {
  setText($('clock'), clockTime(new Date()));
  renderSchedule();
  if (!$('banner').hidden) renderBanner();
}
setInterval(tick, 1000);
tick();
render();
client.start();
