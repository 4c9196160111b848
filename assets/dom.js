// What the page's modules write into the DOM with: elements built from properties (never from
// markup: every server string goes through `textContent` or an attribute), text and `hidden` set
// only when they change, lists reconciled in place by key, and invisible characters made visible.
// Shared by assets/app.js and assets/graphics-view.js.

/** Creates an element; `props` sets properties (`className`, `textContent`, `dataset`, …). */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'attrs') for (const [a, val] of Object.entries(v)) node.setAttribute(a, val);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

/** Sets text only when it changed (cheap at 10 Hz, and screen readers are not re-notified). */
export function setText(node, text) {
  const s = String(text);
  if (node.textContent !== s) node.textContent = s;
}

export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

// Titles may hold invisible format characters (U+202E reverses the text after it); show them as
// `<U+202E>` so the page never displays one name while another plays (docs/ws-protocol.md).
const HIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
export function visible(text) {
  return String(text).replace(HIDDEN, (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}

/**
 * Puts `keys` into `container` in order, reusing the child whose `data-key` matches, so a row the
 * operator focused stays the same element. Only rows out of place are moved, and as few as
 * possible: the rows already in order (the longest increasing run of their old positions) stay,
 * so one item moved from the top of 10,000 to the bottom moves one row, not 9,999.
 */
export function reconcile(container, keys, make, update) {
  const focused = document.activeElement;
  const existing = new Map();
  let pos = 0;
  // The key is kept as a plain property too: reading `dataset` 10,000 times per render is slow.
  for (const child of container.children) existing.set(child.key ?? child.dataset.key, { node: child, pos: pos++ });
  const nodes = new Array(keys.length);
  const oldPos = new Array(keys.length);
  keys.forEach((key, i) => {
    const old = existing.get(key);
    if (old) {
      existing.delete(key);
      nodes[i] = old.node;
      oldPos[i] = old.pos;
    } else {
      nodes[i] = make(key);
      nodes[i].dataset.key = key;
      nodes[i].key = key;
      oldPos[i] = -1;
    }
    update(nodes[i], i);
  });
  // Gone first, so that a removed row does not stand in the way of the ones after it.
  for (const { node } of existing.values()) node.remove();
  const stay = increasingRun(oldPos);
  // From the end, so the row after each one is already in its final place; the rows that stay
  // keep their order among themselves, and every other row goes right before its successor.
  let after = null;
  for (let i = keys.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!stay[i] && (node.parentNode !== container || node.nextSibling !== after)) container.insertBefore(node, after);
    after = node;
  }
  // Moving a node blurs it in some browsers; give the focus back.
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
}

/**
 * Marks the longest strictly increasing subsequence of `positions` (ignoring -1: new rows), in
 * O(n log n): the rows that can keep their place while the others move around them.
 */
function increasingRun(positions) {
  const tails = []; // tails[k]: index (into positions) ending the best run of length k + 1
  const prev = new Array(positions.length).fill(-1);
  positions.forEach((p, i) => {
    if (p < 0) return;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[tails[mid]] < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1];
    tails[lo] = i;
  });
  const stay = new Array(positions.length).fill(false);
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) stay[i] = true;
  return stay;
}
