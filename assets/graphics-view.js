// Graphics on the page (docs/graphics.md): the chips of an item's secondary events in its rundown
// row, each with a Fire button, and the graphics panel: what is live on the shown playlist's
// channel, each with Clear (a template also with Update and Invoke), and the standing logo's
// on/off toggle.
//
// Only drawing: the buttons carry `data-act` (and the event or layer) and assets/app.js turns
// clicks into commands. Operator buttons are hidden for a viewer token (which can never use them)
// and disabled while commands cannot be sent (not connected), as the page's other controls are.
// Server strings reach the DOM as text only.

import { h, reconcile, setHidden, setText, visible } from './dom.js';
import { PHASE_TEXT, channelGraphics, channelLabel, eventChip, eventTitle, itemEvents, logoState, takesData } from './graphics.js';

const $ = (id) => document.getElementById(id);

function makeChip() {
  const text = h('span', { className: 'gfx-text' });
  const fire = h('button', { type: 'button', className: 'icon fire', textContent: 'Fire', dataset: { act: 'fire' } });
  const chip = h('span', { className: 'gfx-chip' }, text, fire);
  chip.refs = { text, fire };
  return chip;
}

/**
 * Fills a rundown row's graphics line (`box`) with a chip per event of `item`, `label` being the
 * item as the row names it. `operator`: the token may command (else no Fire buttons); `can`:
 * commands can be sent now.
 */
export function drawItemGraphics(box, item, label, operator, can) {
  const events = itemEvents(item);
  setHidden(box, events.length === 0);
  // Most rows have none: nothing to reconcile (10,000 rows are drawn on a snapshot).
  if (events.length === 0 && !box.firstChild) return;
  const byId = new Map(events.map((e) => [e.id, e]));
  reconcile(
    box,
    [...byId.keys()],
    makeChip,
    (chip) => {
      const ev = byId.get(chip.key);
      const r = chip.refs;
      setText(r.text, visible(eventChip(ev)));
      chip.title = visible(eventTitle(ev));
      r.fire.dataset.event = ev.id;
      r.fire.setAttribute('aria-label', `Fire ${visible(ev.id)} on ${label}`);
      r.fire.title = `Show ${visible(ev.id)} now`;
      setHidden(r.fire, !operator);
      r.fire.disabled = !can;
    },
  );
}

function makeLiveRow() {
  const refs = {
    layer: h('span', { className: 'gfx-layer' }),
    label: h('span', { className: 'gfx-label' }),
    name: h('span', { className: 'gfx-name' }),
    phase: h('span', { className: 'badge gfx-phase' }),
    update: h('button', { type: 'button', className: 'icon', textContent: 'Update', dataset: { act: 'update' } }),
    invoke: h('button', { type: 'button', className: 'icon', textContent: 'Invoke', dataset: { act: 'invoke' } }),
    clear: h('button', { type: 'button', className: 'icon danger', textContent: 'Clear', dataset: { act: 'clear' } }),
  };
  const acts = h('span', { className: 'gfx-acts' }, refs.update, refs.invoke, refs.clear);
  const row = h('li', { className: 'gfx-live' }, refs.layer, refs.label, refs.name, refs.phase, acts);
  row.refs = refs;
  return row;
}

/**
 * The graphics panel for playlist `pl` (null: none shown) from the client's `state`: its
 * channel's live graphics and its logo's toggle.
 */
export function renderGraphicsPanel(state, pl, operator, can, hasState) {
  const live = channelGraphics(state, pl);
  const byLayer = new Map(live.map((g) => [String(g.layer), g]));
  setText($('gfx-where'), pl ? channelLabel(pl) : '');
  reconcile(
    $('gfx-list'),
    [...byLayer.keys()],
    makeLiveRow,
    (row) => {
      const g = byLayer.get(row.key);
      const r = row.refs;
      setText(r.layer, g.layer);
      setText(r.label, visible(g.label));
      setText(r.name, visible(g.manual ? `${g.name} · by hand` : g.name));
      setText(r.phase, PHASE_TEXT[g.phase] ?? g.phase.toUpperCase());
      r.phase.dataset.phase = g.phase;
      row.dataset.name = g.name;
      row.dataset.phase = g.phase;
      row.dataset.kind = g.kind ?? '';
      r.clear.dataset.layer = String(g.layer);
      r.clear.setAttribute('aria-label', `Clear layer ${g.layer} (${visible(g.name)})`);
      // Going off already: its out-animation ends by itself.
      setHidden(r.clear, !operator || g.phase === 'stopped');
      r.clear.disabled = !can;
      // New data and function calls: for a template only (a still has neither), not going off.
      const template = operator && takesData(g);
      row.classList.toggle('has-template-acts', template);
      for (const [b, what] of [
        [r.update, `Update layer ${g.layer} (${visible(g.name)})`],
        [r.invoke, `Invoke a function on layer ${g.layer} (${visible(g.name)})`],
      ]) {
        b.dataset.layer = String(g.layer);
        b.setAttribute('aria-label', what);
        setHidden(b, !template);
        b.disabled = !can;
      }
      r.update.title = `New data for ${visible(g.label)} on air`;
      r.invoke.title = `Call a function of ${visible(g.label)}`;
    },
  );
  setHidden($('gfx-empty'), live.length > 0 || !hasState);

  const logo = logoState(state, pl);
  const button = $('btn-logo');
  setHidden(button, !logo || !operator);
  if (!logo) return;
  button.setAttribute('aria-pressed', String(logo.on));
  const note = logo.on ? '' : logo.why === 'item' ? ' · off for this item' : logo.why === 'idle' ? ' · not on air' : '';
  setText(button, `Logo ${logo.on ? 'on' : 'off'}${note}`);
  button.title = logo.on
    ? `${visible(logo.label)} on layer ${logo.layer}: take it off (it stays off until put back)`
    : `${visible(logo.label)} on layer ${logo.layer}: put it back on`;
  button.disabled = !can;
}
