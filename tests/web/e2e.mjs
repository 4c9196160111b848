// End-to-end test of the web control page in headless Debian Chromium, driven by playwright-core.
//
// Run by tests/web_e2e.rs, which owns the simulator and the daemon:
//
//   node tests/web/e2e.mjs <page-url> <artifact-dir>
//
// The daemon restart is coordinated over stdio, one line each way:
//   script → test: `@@ KILL`     the test kills the daemon (and edits a playlist file meanwhile),
//   test → script: `KILLED`
//   script → test: `@@ RESTART`  the test starts the daemon again on the same port,
//   test → script: `RESTARTED`
//   script → test: `@@ RESTART_WITH_TOKENS`  the test stops the daemon gracefully (SIGTERM) and
//                  starts it requiring the tokens it passed in ONAIR_E2E_OPERATOR_TOKEN and
//                  ONAIR_E2E_VIEWER_TOKEN,
//   test → script: `RESTARTED`
//   script → test: `@@ TEMPLATES` what the simulator's template pages are (CasparCG's side, not the
//                  daemon's belief),
//   test → script: `TEMPLATES [{"channel":1,"layer":20,"template":"LOWER_THIRD","playing":true,"data":"…"}]`
//   script → test: `@@ INVOKES`  the `CG … INVOKE` commands the simulator executed,
//   test → script: `INVOKES [{"channel":1,"layer":20,"params":["1","next_headline"]}]`
//   script → test: `@@ DONE`     everything passed (exit code 0).
// Every other stdout/stderr line is a log line. Any failure exits 1 after a screenshot
// (`onair-web-failure.png` in the artifact dir).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [url, outDir = 'target/web-e2e'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node e2e.mjs <page-url> [artifact-dir]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

/** The title the test writes into the playlist file while the daemon is down: the page can only
 * learn it from the new daemon's snapshot, and its markup must be shown as text, not parsed. */
const OFFLINE_TITLE = 'Edited <b>offline</b> & "resynced"';
const OPERATOR_TOKEN = process.env.ONAIR_E2E_OPERATOR_TOKEN || 'e2e-operator';
const VIEWER_TOKEN = process.env.ONAIR_E2E_VIEWER_TOKEN || 'e2e-viewer';

const started = Date.now();
const log = (msg) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

// ---- stdio protocol with the Rust test --------------------------------------------------------------

const stdinLines = createInterface({ input: process.stdin });
const waiting = [];
const queued = [];
stdinLines.on('line', (line) => {
  const w = waiting.shift();
  if (w) w(line.trim());
  else queued.push(line.trim());
});

function readLine(timeoutMs) {
  if (queued.length) return Promise.resolve(queued.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from the test harness on stdin')), timeoutMs);
    waiting.push((line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
}

async function ask(request, expected, timeoutMs = 30000) {
  console.log(`@@ ${request}`);
  const answer = await readLine(timeoutMs);
  if (answer !== expected) throw new Error(`harness answered ${JSON.stringify(answer)} to ${request}, wanted ${expected}`);
}

/** The simulator's template pages (`@@ TEMPLATES`). */
async function simTemplates() {
  console.log('@@ TEMPLATES');
  const answer = await readLine(30000);
  if (!answer.startsWith('TEMPLATES ')) throw new Error(`harness answered ${JSON.stringify(answer)} to TEMPLATES`);
  return JSON.parse(answer.slice('TEMPLATES '.length));
}

/** The `CG … INVOKE` commands the simulator executed (`@@ INVOKES`). */
async function simInvokes() {
  console.log('@@ INVOKES');
  const answer = await readLine(30000);
  if (!answer.startsWith('INVOKES ')) throw new Error(`harness answered ${JSON.stringify(answer)} to INVOKES`);
  return JSON.parse(answer.slice('INVOKES '.length));
}

// ---- browser --------------------------------------------------------------------------------------

// Flags from the machine notes: without the background-networking ones Chromium keeps trying to
// reach Google's hosts, which this closed network refuses. playwright-core adds --headless and a
// fresh temporary --user-data-dir itself (and removes it afterwards).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 60000,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const problems = [];
function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // While the daemon is down the browser logs each failed WebSocket attempt (and the health
    // probe's failed fetch) as console errors: expected during this test, anything else is not.
    const expected = /WebSocket connection to .* failed|Failed to load resource: net::ERR_CONNECTION_REFUSED/.test(text);
    if (m.type() === 'error' && !expected) problems.push(`${name}: console error: ${text}`);
  });
}

const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
const page = await context.newPage();
watch(page, 'desktop');
page.setDefaultTimeout(20000);

const conn = page.locator('#conn');
const rows = page.locator('#items > li');

async function elapsed() {
  const v = await page.locator('#progress').getAttribute('data-elapsed');
  return v ? Number(v) : NaN;
}

/** Waits until the on-air progress moves forward (telemetry is live, not frozen numbers). */
async function progressAdvances(label) {
  await page.waitForFunction(() => Number(document.querySelector('#progress')?.dataset.elapsed) > 0, null, { timeout: 20000 });
  const first = await elapsed();
  await page.waitForFunction(
    (e0) => Number(document.querySelector('#progress')?.dataset.elapsed) > e0 + 0.2,
    first,
    { timeout: 20000 },
  );
  const second = await elapsed();
  const remaining = await page.locator('#remaining').textContent();
  if (!/^-\d\d:\d\d$/.test(remaining ?? '')) throw new Error(`${label}: remaining shows ${remaining}`);
  if (await page.locator('#stale').isVisible()) throw new Error(`${label}: progress is marked stale`);
  log(`${label}: progress ${first.toFixed(2)} s → ${second.toFixed(2)} s, remaining ${remaining}`);
}

/**
 * Puts `window.e2eOperator(token)` into the page: a second client (a WebSocket of its own with the
 * given token) for what the page has no control for, resolving to `{run(op, args), close()}` where
 * `run` resolves with the ack.
 */
async function installSecondClient(p) {
  await p.evaluate(() => {
    window.e2eOperator = async (token) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
      let next = 0;
      const waiting = new Map();
      ws.onmessage = ({ data }) => {
        const msg = JSON.parse(data);
        if (msg.type === 'ack') waiting.get(msg.id)?.(msg);
      };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the second client could not connect'));
      });
      const run = (op, args) => new Promise((resolve) => {
        const id = `e2e-${++next}`;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ type: 'command', id, op, args }));
      });
      return { run, close: () => ws.close() };
    };
  });
}

async function screenshot(p, name) {
  const path = join(outDir, name);
  await p.screenshot({ path, fullPage: false });
  log(`screenshot ${path}`);
}

try {
  log(`open ${url}`);
  await page.goto(url);
  await page.waitForSelector('#conn[data-state="connected"]', { timeout: 20000 });
  const boot1 = await conn.getAttribute('data-boot-id');
  log(`connected (boot ${boot1})`);

  // The media library arrives with the snapshot or right after CasparCG's CLS.
  const addClip1 = page.getByRole('button', { name: 'Add CLIP1 to the rundown' });
  await addClip1.waitFor();
  const before = await rows.count();
  await addClip1.click();
  await page.getByRole('button', { name: 'Add CLIP2 to the rundown' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('#items > li').length === n, before + 2);
  const first = rows.nth(before);
  if ((await first.locator('.title').textContent()) !== 'CLIP1') throw new Error('the first added row is not CLIP1');
  log(`added CLIP1 and CLIP2 (rundown has ${before + 2} items)`);

  // Take plays the next item: with a fresh data directory, CLIP1.
  await page.locator('#transport button[data-action="take"]').click();
  await page.waitForSelector('#status[data-status="playing"]');
  await page.waitForFunction(() => document.querySelector('#onair-title')?.textContent === 'CLIP1');
  await page.waitForSelector('#items > li[data-state="on-air"]');
  log('CLIP1 is on air');
  await progressAdvances('before restart');
  await screenshot(page, 'onair-web-before-restart.png');

  // ---- the daemon dies; the page must say so and keep trying -------------------------------------
  await ask('KILL', 'KILLED');
  log('daemon killed');
  await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 15000 });
  await page.waitForSelector('#banner:not([hidden])');
  await page.waitForSelector('main.is-stale');
  log(`page shows: ${await page.locator('#banner-text').textContent()}`);
  await screenshot(page, 'onair-web-reconnecting.png');
  // Commands are refused while disconnected instead of vanishing.
  if (!(await page.locator('#transport button[data-action="take"]').isDisabled())) {
    throw new Error('Take is enabled while disconnected');
  }

  await ask('RESTART', 'RESTARTED', 60000);
  log('daemon restarted');
  await page.waitForFunction(
    (old) => {
      const c = document.querySelector('#conn');
      return c?.dataset.state === 'connected' && c.dataset.bootId && c.dataset.bootId !== old;
    },
    boot1,
    { timeout: 30000 },
  );
  const boot2 = await conn.getAttribute('data-boot-id');
  log(`reconnected to the new daemon (boot ${boot2})`);
  if (await page.locator('#banner').isVisible()) throw new Error('the lost-connection banner is still shown');

  // Resynced from the new daemon's snapshot: the edit made while it was down is shown, as text.
  const edited = page.locator('#items > li .title', { hasText: 'Edited' });
  await edited.waitFor({ timeout: 15000 });
  const shown = await edited.textContent();
  if (shown !== OFFLINE_TITLE) throw new Error(`offline edit shown as ${JSON.stringify(shown)}`);
  if ((await page.locator('#items b').count()) !== 0) throw new Error('a title was parsed as HTML');
  log(`offline edit shown verbatim: ${shown}`);
  // Playout was never interrupted: the new daemon adopted what CasparCG kept playing.
  await page.waitForFunction(() => document.querySelector('#onair-title')?.textContent === 'CLIP1');
  await page.waitForSelector('#status[data-status="playing"]');
  await progressAdvances('after restart');

  // Commands work on the new connection.
  const count = await rows.count();
  await page.getByRole('button', { name: 'Add SHORT to the rundown' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('#items > li').length === n, count + 1);
  await page.waitForFunction(() => document.querySelector('#log .log-entry.ok')?.textContent.includes('Add SHORT: done'));
  log('added SHORT after the restart');

  // A refused command shows its error: previous from the first item has nothing to go back to, or
  // it works; either way the ack must land in the activity log.
  await page.keyboard.press('b');
  await page.waitForFunction(() => {
    const e = document.querySelector('#log .log-entry');
    return e && !e.classList.contains('pending') && e.textContent.includes('Previous');
  });
  log(`keyboard "b" → ${await page.locator('#log .log-entry').first().locator('.text').textContent()}`);

  // ---- tokens: the daemon restarts gracefully and now requires one ---------------------------------
  await ask('RESTART_WITH_TOKENS', 'RESTARTED', 60000);
  // The upgrade is refused (401) while /health answers: the page asks for a token by itself.
  await page.waitForSelector('#dlg-token[open]', { timeout: 30000 });
  log(`refused without a token; banner: ${await page.locator('#banner-text').textContent()}`);
  await page.fill('#token-input', VIEWER_TOKEN);
  await page.click('#token-ok');
  await page.waitForSelector('#conn[data-state="connected"]');
  await page.waitForSelector('#role:not([hidden])');
  const take = page.locator('#transport button[data-action="take"]');
  if (!(await take.isDisabled())) throw new Error('a viewer can press Take');
  if (!(await page.getByRole('button', { name: 'Add CLIP1 to the rundown' }).isDisabled())) {
    throw new Error('a viewer can add clips');
  }
  log('viewer token: connected read-only, controls disabled');
  await screenshot(page, 'onair-web-viewer.png');
  await page.click('#btn-token');
  await page.fill('#token-input', OPERATOR_TOKEN);
  await page.click('#token-ok');
  await page.waitForSelector('#role[hidden]', { state: 'attached' });
  await page.waitForSelector('#conn[data-state="connected"]');
  await take.waitFor();
  await page.waitForFunction(() => !document.querySelector('#transport button[data-action="take"]').disabled);
  await page.waitForSelector('#status[data-status="playing"]');
  log('operator token: controls enabled again, still on air');

  // Keyboard: "/" filters the library and Enter adds the first match (which becomes the selected
  // row), Shift+K moves the selected row up, "?" opens the help.
  await page.keyboard.press('/');
  await page.keyboard.type('LOG');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#items > li.cursor .title')?.textContent === 'LOGO');
  await page.keyboard.press('Escape');
  const logoAt = await rows.count();
  await page.keyboard.press('Shift+K');
  await page.waitForFunction((n) => document.querySelector(`#items > li:nth-child(${n}) .title`)?.textContent === 'LOGO', logoAt - 1);
  await page.keyboard.press('?');
  await page.waitForSelector('#dlg-help[open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#dlg-help:not([open])', { state: 'attached' });
  log('keyboard: filter + Enter added LOGO, Shift+K moved it up, ? opened the help');

  // The toast from a failed command must not hide the picture.
  await page.evaluate(() => {
    document.querySelector('#toast').hidden = true;
  });
  await screenshot(page, 'onair-web.png');

  // ---- graphics: a logo and a lower third on the page's channel ---------------------------------
  // A second client gives `main` a logo (the still LOGO on layer 30) and takes a new item with a
  // lower third on layer 20. The item loops and the event is timed from its end, so onair never
  // shows it by itself (a looping clip has no end): only the page's Fire button can.
  await installSecondClient(page);
  const setup = await page.evaluate(async (token) => {
    const { run, close } = await window.e2eOperator(token);
    const logo = await run('playlist.update', { playlist: 'main', logo: { layer: 30, graphic: { kind: 'still', clip: 'LOGO' } } });
    const added = await run('item.add', {
      playlist: 'main',
      clip: 'CLIP2',
      title: 'Interview',
      loop: true,
      graphics: { events: [{ id: 'lt', layer: 20, offset_ms: -1000, graphic: { kind: 'template', template: 'LOWER_THIRD', data: { name: 'Ada Lovelace' } } }] },
    });
    const take = typeof added.item === 'string' ? await run('playout.take', { playlist: 'main', item: added.item }) : null;
    close();
    return [logo, added, take];
  }, OPERATOR_TOKEN);
  if (setup.some((a) => !a?.ok)) throw new Error(`setting up graphics failed: ${JSON.stringify(setup)}`);
  await page.waitForFunction(() => document.querySelector('#onair-title')?.textContent === 'Interview');
  const interview = page.locator('#items > li[data-state="on-air"]');
  const chip = interview.locator('.gfx-chip');
  if ((await chip.locator('.gfx-text').textContent()) !== 'lt · 20 · -1s') throw new Error(`the event's chip says ${await chip.textContent()}`);
  const logoRow = page.locator('#gfx-list > li[data-name="logo"]');
  await page.waitForSelector('#gfx-list > li[data-name="logo"][data-phase="on"]');
  if ((await logoRow.locator('.gfx-label').textContent()) !== 'LOGO' || (await logoRow.locator('.gfx-layer').textContent()) !== '30') {
    throw new Error(`the logo is listed as ${await logoRow.innerText()}`);
  }
  await page.waitForSelector('#btn-logo[aria-pressed="true"]');
  if ((await page.locator('#gfx-where').textContent()) !== 'channel 1') throw new Error('the panel names another channel');
  const ltRow = page.locator('#gfx-list > li[data-key="20"]');
  if ((await ltRow.count()) !== 0) throw new Error('the lower third is on before it was fired');
  log('graphics: the panel lists the logo on layer 30; the lower third waits for Fire');

  await chip.getByRole('button', { name: 'Fire lt on Interview' }).click();
  await page.waitForFunction(() => document.querySelector('#log .log-entry.ok')?.textContent.includes('Fire lt on Interview: done'));
  // Answered once CasparCG answered: the simulator plays the template with its data.
  const fired = (await simTemplates()).find((t) => t.channel === 1 && t.layer === 20);
  if (!fired || fired.template !== 'LOWER_THIRD' || !fired.playing || !fired.data.includes('Ada Lovelace')) {
    throw new Error(`after Fire the simulator's layer 20 has ${JSON.stringify(fired)}`);
  }
  await page.waitForSelector('#gfx-list > li[data-key="20"][data-phase="on"]');
  if ((await ltRow.locator('.gfx-name').textContent()) !== 'lt · by hand') throw new Error(`the fired event is listed as ${await ltRow.innerText()}`);
  log(`graphics: Fire → the simulator plays ${fired.template} on 1-20; the panel lists it`);
  await screenshot(page, 'onair-web-graphics.png');

  // Update and Invoke: on the template, not on the logo (a still).
  if ((await logoRow.locator('button[data-act="update"], button[data-act="invoke"]').evaluateAll((els) => els.filter((e) => e.checkVisibility()).length)) !== 0) {
    throw new Error('the logo (a still) is offered Update or Invoke');
  }
  const updateButton = ltRow.getByRole('button', { name: 'Update layer 20 (lt)' });
  const dataBox = page.locator('#gfx-update-data');
  const updateError = page.locator('#gfx-update-error');
  const updatesLogged = () => page.locator('#log .log-entry', { hasText: 'Update layer 20 (lt)' }).count();
  // The dialog starts from the data on air, and says what it updates.
  await updateButton.click();
  await page.waitForSelector('#dlg-gfx-update[open]');
  const what = await page.locator('#gfx-update-what').textContent();
  if (what !== 'LOWER_THIRD (lt) on layer 20 of channel 1') throw new Error(`the Update dialog says ${JSON.stringify(what)}`);
  const prefilled = await dataBox.inputValue();
  if (prefilled !== JSON.stringify({ name: 'Ada Lovelace' }, null, 2)) throw new Error(`the Update dialog starts from ${JSON.stringify(prefilled)}`);
  // Invalid JSON, and JSON that is not an object: the error is shown, the dialog stays, nothing is sent.
  for (const bad of ['{"name": "Grace Hopper"', '["Grace Hopper"]']) {
    await dataBox.fill(bad);
    await page.click('#gfx-update-send');
    await updateError.waitFor({ state: 'visible' });
    if (!(await page.locator('#dlg-gfx-update').evaluate((d) => d.open))) throw new Error(`Send closed the dialog on ${bad}`);
    log(`graphics: Update refuses ${bad}: ${await updateError.textContent()}`);
  }
  await screenshot(page, 'onair-web-graphics-update.png');
  if ((await updatesLogged()) !== 0) throw new Error('invalid data was sent');
  if (!(await simTemplates()).find((t) => t.layer === 20)?.data.includes('Ada Lovelace')) throw new Error('invalid data reached the simulator');
  // Typing hides the error; valid data is sent and reaches CasparCG's page.
  const grace = { name: 'Grace Hopper', role: 'Rear admiral' };
  await dataBox.fill(JSON.stringify(grace, null, 2));
  if (await updateError.isVisible()) throw new Error('the error stayed while typing');
  await page.click('#gfx-update-send');
  await page.waitForSelector('#dlg-gfx-update:not([open])', { state: 'attached' });
  await page.waitForFunction(() => document.querySelector('#log .log-entry.ok')?.textContent.includes('Update layer 20 (lt): done'));
  const updated = (await simTemplates()).find((t) => t.channel === 1 && t.layer === 20);
  let onPage = null;
  try {
    onPage = JSON.parse(updated?.data ?? '');
  } catch {
    // Shown below as it is.
  }
  if (!updated?.playing || JSON.stringify(onPage) !== JSON.stringify(grace)) {
    throw new Error(`after Update the simulator's layer 20 has ${JSON.stringify(updated)}`);
  }
  log(`graphics: Update → the simulator's page on 1-20 holds ${updated.data}`);
  // The live list was republished with the new data (around the ack, in either order): the
  // dialog starts from it. Escape cancels.
  for (const until = Date.now() + 10000; ; ) {
    await updateButton.click();
    await page.waitForSelector('#dlg-gfx-update[open]');
    const text = await dataBox.inputValue();
    if (text === JSON.stringify(grace, null, 2)) break;
    if (Date.now() > until) throw new Error(`after Update the dialog starts from ${text}`);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#dlg-gfx-update:not([open])', { state: 'attached' });
    await page.waitForTimeout(100);
  }
  await dataBox.fill('{"name": "never sent"}');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#dlg-gfx-update:not([open])', { state: 'attached' });
  // Template XML is sent as it is.
  const xml = '<templateData><componentData id="name"><data id="text" value="Grace &amp; co"/></componentData></templateData>';
  await updateButton.click();
  await page.waitForSelector('#dlg-gfx-update[open]');
  await dataBox.fill(xml);
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('#dlg-gfx-update:not([open])', { state: 'attached' });
  await page.waitForFunction(
    () => [...document.querySelectorAll('#log .log-entry.ok')].filter((e) => e.textContent.includes('Update layer 20 (lt): done')).length === 2,
  );
  if ((await updatesLogged()) !== 2) throw new Error(`${await updatesLogged()} updates were sent, wanted 2 (Escape must send nothing)`);
  const asXml = (await simTemplates()).find((t) => t.channel === 1 && t.layer === 20);
  if (asXml?.data !== xml) throw new Error(`after an XML Update the simulator's layer 20 has ${JSON.stringify(asXml)}`);
  log('graphics: Escape sent nothing; XML (Ctrl+Enter) reached the simulator as it is');

  // Invoke: a function's name is required; the call reaches CasparCG.
  await ltRow.getByRole('button', { name: 'Invoke a function on layer 20 (lt)' }).click();
  await page.waitForSelector('#dlg-gfx-invoke[open]');
  await page.click('#gfx-invoke-send');
  await page.locator('#gfx-invoke-error').waitFor({ state: 'visible' });
  if ((await simInvokes()).length !== 0) throw new Error('an empty Invoke was sent');
  await page.fill('#gfx-invoke-method', '  next_headline ');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#dlg-gfx-invoke:not([open])', { state: 'attached' });
  await page.waitForFunction(() => document.querySelector('#log .log-entry.ok')?.textContent.includes('Invoke next_headline on layer 20 (lt): done'));
  const invokes = await simInvokes();
  if (!invokes.some((c) => c.channel === 1 && c.layer === 20 && c.params.at(-1) === 'next_headline')) {
    throw new Error(`the simulator executed these INVOKEs: ${JSON.stringify(invokes)}`);
  }
  log(`graphics: Invoke → the simulator executed CG 1-20 INVOKE ${invokes.at(-1).params.join(' ')}`);

  // A viewer sees the events and what is live (the lower third too), and no control to change them.
  const readOnly = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const viewer = await readOnly.newPage();
  watch(viewer, 'viewer');
  await viewer.goto(`${url}#token=${encodeURIComponent(VIEWER_TOKEN)}`);
  await viewer.waitForSelector('#conn[data-state="connected"]');
  await viewer.waitForSelector('#gfx-list > li[data-name="logo"][data-phase="on"]');
  await viewer.waitForSelector('#gfx-list > li[data-key="20"][data-phase="on"][data-kind="template"]');
  await viewer.locator('#items > li[data-state="on-air"] .gfx-chip').waitFor();
  for (const sel of ['.gfx-chip .fire', '#gfx-list button', '#btn-logo']) {
    const visible = await viewer.locator(sel).evaluateAll((els) => els.filter((e) => e.checkVisibility()).length);
    if (visible !== 0) throw new Error(`a viewer is offered ${sel}`);
  }
  await readOnly.close();
  log('graphics: a viewer sees the chips and the logo, without Fire, Clear, Update, Invoke or the toggle');

  // Clear asks first: Cancel leaves it on air, Clear takes it off.
  const clear = ltRow.getByRole('button', { name: 'Clear layer 20 (lt)' });
  await clear.click();
  await page.waitForSelector('#dlg-confirm[open]');
  const question = await page.locator('#confirm-text').textContent();
  if (!question.includes('lt (LOWER_THIRD)') || !question.includes('layer 20')) throw new Error(`Clear asks: ${question}`);
  await page.locator('#dlg-confirm button[value="cancel"]').click();
  await page.waitForSelector('#dlg-confirm:not([open])', { state: 'attached' });
  if (!(await simTemplates()).some((t) => t.layer === 20 && t.playing)) throw new Error('Cancel cleared the lower third');
  await clear.click();
  await page.waitForSelector('#dlg-confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.querySelector('#log .log-entry.ok')?.textContent.includes('Clear layer 20 (lt): done'));
  if ((await simTemplates()).some((t) => t.layer === 20 && t.playing)) throw new Error('the lower third still plays after Clear');
  // Its out-animation ends and the template is removed (2 s later): then the panel drops it.
  await ltRow.waitFor({ state: 'detached', timeout: 20000 });
  if (!(await logoRow.isVisible())) throw new Error('Clear took the logo off too');
  log(`graphics: Clear asked "${question}", then the lower third left the simulator and the panel`);

  // The logo toggle: off (the still is cleared), and back on.
  await page.click('#btn-logo');
  await page.waitForSelector('#btn-logo[aria-pressed="false"]');
  await logoRow.waitFor({ state: 'detached' });
  await page.click('#btn-logo');
  await page.waitForSelector('#gfx-list > li[data-name="logo"][data-phase="on"]');
  await page.waitForSelector('#btn-logo[aria-pressed="true"]');
  log('graphics: the logo toggled off and back on');

  // The same daemon on a phone-width screen, as a second client; its token comes in the URL's
  // fragment (which never reaches the server or its logs).
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  await mobile.goto(`${url}#token=${encodeURIComponent(OPERATOR_TOKEN)}`);
  await mobile.waitForSelector('#conn[data-state="connected"]');
  await mobile.waitForSelector('#status[data-status="playing"]');
  if ((await mobile.locator('#items > li').count()) !== (await rows.count())) throw new Error('the phone shows another rundown');
  if (new URL(mobile.url()).hash.includes('token')) throw new Error('the token stayed in the address bar');
  const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the page is ${overflow}px wider than a phone screen`);
  await screenshot(mobile, 'onair-web-phone.png');
  await phone.close();

  // Playlist roles arrive as `playlist_settings` events and show where the playlist is named. The
  // page has no control for them, so a second client (a WebSocket in the page, with the operator
  // token) sets them: `main` ends in black, and a filler on its layer, which is then taken (as it
  // would go on air in a gap): `main` must say who took its layer over, and after which item. Last,
  // because `main` is off air from here on.
  const acks = await page.evaluate(async (token) => {
    const { run, close } = await window.e2eOperator(token);
    const end = await run('playlist.update', { playlist: 'main', end_action: 'black' });
    const created = await run('playlist.create', { name: 'Night filler', channel_layer: '1-10' });
    // Without an id the next ops would address the selected playlist, `main`.
    if (typeof created.playlist !== 'string') return [end, created];
    const playlist = created.playlist;
    const added = await run('item.add', { playlist, clip: 'CLIP2' });
    const filler = await run('playlist.update', { playlist, filler: 'shuffle' });
    const take = await run('playout.take', { playlist });
    close();
    return [end, created, added, filler, take];
  }, OPERATOR_TOKEN);
  if (acks.length !== 5 || acks.some((a) => !a.ok)) throw new Error(`setting the roles failed: ${JSON.stringify(acks)}`);
  const options = () => [...document.querySelectorAll('#playlist-select option')].map((o) => o.textContent);
  await page.waitForFunction(
    (all) => all.every((want) => [...document.querySelectorAll('#playlist-select option')].some((o) => o.textContent === want)),
    ['main (1-10) · end: black', 'Night filler (1-10) · FILLER · shuffle'],
  );
  await page.waitForFunction(() => document.querySelector('#onair-playlist')?.textContent === 'main · 1-10 · end: black');
  // The picker names the role; the badge, for a single playlist, would only repeat it.
  if (await page.locator('#rundown-role').isVisible()) throw new Error('the role is shown twice');
  await page.waitForSelector('#status[data-status="stopped"]');
  await page.waitForFunction(() => /^Layer taken over by Night filler after «.+»$/.test(document.querySelector('#onair-title')?.textContent ?? ''));
  log(`roles: picker ${JSON.stringify(await page.evaluate(options))}; on air: ${await page.locator('#onair-title').textContent()}`);
  await screenshot(page, 'onair-web-taken-over.png');

  if (problems.length) throw new Error(`page problems:\n  ${problems.join('\n  ')}`);
  log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log('@@ DONE');
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`[e2e] FAILED: ${e.stack || e}`);
  if (problems.length) console.error(`[e2e] page problems:\n  ${problems.join('\n  ')}`);
  try {
    await screenshot(page, 'onair-web-failure.png');
    console.error(`[e2e] page text at failure:\n${(await page.locator('body').innerText()).slice(0, 3000)}`);
  } catch {
    // The browser itself may be gone.
  }
  await browser.close().catch(() => {});
  process.exit(1);
}
