// What one server message costs the web page with a 10,000-item rundown, in headless Debian
// Chromium: from the message's arrival to the frame after the page redrew (the page renders once
// per animation frame). The page is loaded from `assets/` as it is served, with a fake WebSocket
// that this script plays the daemon through; no daemon is needed. Not run by `cargo test` (it
// takes a minute); docs/benchmarks.md has its numbers.
//
//   node tests/web/render-bench.mjs [items|whole] [assets dir]
//
// `items` sends item-level events (item_added, item_moved, playout, …); `whole` sends every
// playlist change as a whole `playlist` event, as daemons did before item-level events. One item
// in ten has a lower third (a chip with Fire in its row), and `graphics` events change what is live
// on the channel (the graphics panel, not the rundown). Needs
// /usr/bin/chromium and playwright-core (scripts/install-web-test-deps.sh).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const [mode = 'items', assets = path.join(here, '../../assets')] = process.argv.slice(2);
const ITEMS = 10000;
const RUNS = 7;

// The flags of e2e.mjs: a sandbox-less headless Chromium that does not try to reach the network.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.route('http://bench.invalid/**', (route) => {
  const url = new URL(route.request().url());
  const file = url.pathname === '/' ? 'index.html' : url.pathname.replace(/^\/assets\//, '');
  const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'text/html';
  route.fulfill({ body: fs.readFileSync(path.join(assets, file)), contentType: type });
});
await page.addInitScript(() => {
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      this.readyState = 0;
      window.benchSocket = this;
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.({});
      }, 0);
    }
    send() {}
    close() {}
    recv(msg) {
      this.onmessage?.({ data: JSON.stringify(msg) });
    }
  }
  window.WebSocket = FakeWebSocket;
});
// The browser's own counters: where the time goes (script, style, layout).
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
await page.exposeFunction('benchMetrics', async () =>
  Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value])),
);
await page.goto('http://bench.invalid/');
await page.waitForFunction(() => window.benchSocket?.readyState === 1);

const rows = await page.evaluate(
  async ({ ITEMS, RUNS, mode }) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const item = (k) => ({
      id: `i${k.toString(16).padStart(16, '0')}`,
      clip: `CLIP${k % 50}`,
      ...(k % 7 ? {} : { title: `Story ${k}` }),
      ...(k % 10 ? {} : { graphics: { events: [{ id: 'lt', layer: 20, offset_ms: 10000, duration_ms: 8000, graphic: { kind: 'template', template: 'LOWER_THIRD' } }] } }),
      frames: 500,
      fps: [50, 1],
      loop: false,
      transition: { kind: 'CUT', frames: 0 },
    });
    const items = Array.from({ length: ITEMS }, (_, k) => item(k));
    const pl = {
      id: 'main', name: 'Main', channel_layer: '1-10', items, loop: false, autoplay: true, revision: 1,
      playout: { status: 'playing', on_air: items[1].id, on_air_since_ms: Date.now(), cued: items[2].id, armed_auto: true, next: items[2].id },
      missing: [],
    };
    const ws = window.benchSocket;
    ws.recv({ type: 'hello', server_version: 'bench', boot_id: 'b', seq: 1, role: 'operator' });
    const state = { seq: 1, selected: 'main', playlists: [pl], link: { connected: true, server_version: '2.4.3', state: 'connected', telemetry: 'osc' }, media: { clips: [], updated_ms: 1, error: null }, alarms: [], progress: {} };
    let t0 = performance.now();
    ws.recv({ type: 'snapshot', seq: 1, state });
    await frame();
    const out = [['snapshot', performance.now() - t0, null]];
    let seq = 1;
    const cur = structuredClone(pl);
    let next = ITEMS;
    const send = (ev) => (mode === 'whole' && ev.playlist === 'main' ? { type: 'event', seq: ++seq, kind: 'playlist', playlist: cur } : { type: 'event', seq: ++seq, ...ev });
    const edit = (ev) => {
      cur.revision += 1;
      return send({ ...ev, playlist: 'main', revision: cur.revision });
    };
    const scenarios = {
      'item added at the top': () => {
        const it = item(next++);
        cur.items.unshift(it);
        return edit({ kind: 'item_added', index: 0, item: it, missing: false });
      },
      'item updated (middle)': () => {
        const it = { ...cur.items[5000], title: `Take ${seq}` };
        cur.items[5000] = it;
        return edit({ kind: 'item_updated', index: 5000, item: it, missing: false });
      },
      'item moved top to bottom': () => {
        const it = cur.items.shift();
        cur.items.push(it);
        return edit({ kind: 'item_moved', item: it.id, from: 0, index: cur.items.length - 1 });
      },
      'item moved down one': () => {
        const [it] = cur.items.splice(100, 1);
        cur.items.splice(101, 0, it);
        return edit({ kind: 'item_moved', item: it.id, from: 100, index: 101 });
      },
      'item removed at the top': () => edit({ kind: 'item_removed', item: cur.items.shift().id, index: 0 }),
      'playout (next item on air)': () => {
        const k = 3 + (seq % 100);
        cur.playout = { ...cur.playout, on_air: cur.items[k].id, cued: cur.items[k + 1].id, next: cur.items[k + 1].id };
        return send({ kind: 'playout', playlist: 'main', playout: cur.playout });
      },
      'graphics (live list)': () =>
        send({ kind: 'graphics', graphics: [{ channel: 1, layer: 20, playlist: 'main', item: cur.items[0].id, name: 'lt', label: 'LOWER_THIRD', phase: seq % 2 ? 'on' : 'prepared' }] }),
      'alarm raised': () => send({ kind: 'alarm_raised', alarm: { id: seq, severity: 'warning', kind: 'media', message: 'm', raised_ms: 1 } }),
      progress: () => ({ type: 'progress', progress: { main: { elapsed: seq, remaining: 5, duration: 10, rundown_remaining: 100, fresh: true } } }),
    };
    for (const [name, make] of Object.entries(scenarios)) {
      const times = [];
      const m0 = await window.benchMetrics();
      for (let r = 0; r < RUNS; r++) {
        const msg = make();
        t0 = performance.now();
        ws.recv(msg);
        await frame();
        times.push(performance.now() - t0);
      }
      const m1 = await window.benchMetrics();
      const per = (k) => Math.round(((m1[k] - m0[k]) * 1000) / RUNS);
      times.sort((a, b) => a - b);
      out.push([name, times[RUNS >> 1], `script ${per('ScriptDuration')}, style ${per('RecalcStyleDuration')}, layout ${per('LayoutDuration')}`]);
    }
    const shown = document.querySelectorAll('#items > li').length;
    if (shown !== cur.items.length) throw new Error(`${shown} rows for ${cur.items.length} items`);
    return out;
  },
  { ITEMS, RUNS, mode },
);
console.log(`${ITEMS} items, ${mode === 'whole' ? 'whole playlist events' : 'item-level events'}; median of ${RUNS}, ms from arrival to the next frame`);
for (const [name, ms, detail] of rows) console.log(`${name.padEnd(28)} ${ms.toFixed(0).padStart(6)}${detail ? `   (${detail})` : ''}`);
await browser.close();
