// The graphics panel's two dialogs (docs/web-client.md): new data for a template on air (Update)
// and a call of one of its functions (Invoke).
//
// Each resolves with what to send, or null when cancelled (Cancel, Escape). What is typed is
// checked by assets/graphics.js (pure, tested in node): a text the daemon would refuse shows its
// error in the dialog, which stays open, and nothing is sent; so does a Send while commands cannot
// be sent (the connection dropped meanwhile), so that the text is not lost. Sending is
// assets/app.js's, through its usual command path. Server strings reach the DOM as text only.

import { setHidden, setText } from './dom.js';
import { dataText, parseData, parseMethod } from './graphics.js';

const $ = (id) => document.getElementById(id);

/** The function last called per template (by its name), offered again: a ticker's
 * `next_headline` is called over and over. Kept for this page only. */
const lastMethod = new Map();

/**
 * Opens `dlg` and resolves with `parse()`'s result once it has no error and `canSend()` says a
 * command can go now (else `blockedText()` says why), or null when the dialog closes otherwise.
 * The form's submit is always handled here (never a navigation).
 */
function ask(dlg, form, errorBox, parse, { canSend, blockedText }) {
  setHidden(errorBox, true);
  setText(errorBox, '');
  dlg.returnValue = '';
  return new Promise((resolve) => {
    let result = null;
    const submit = (e) => {
      e.preventDefault();
      const r = parse();
      const error = r.error ?? (canSend() ? null : blockedText());
      if (error) {
        setText(errorBox, error);
        setHidden(errorBox, false);
        return;
      }
      result = r;
      dlg.close('send');
    };
    form.addEventListener('submit', submit);
    dlg.addEventListener(
      'close',
      () => {
        form.removeEventListener('submit', submit);
        resolve(dlg.returnValue === 'send' ? result : null);
      },
      { once: true },
    );
    dlg.showModal();
  });
}

/**
 * Asks for a template's new data, prefilled with `data` as on air (indented JSON, XML as it is,
 * `{}` for none); `what` says which graphic (template, layer, channel); `gate` is
 * `{canSend(), blockedText()}`. Resolves with `{data}` (an object, or an XML string) or null.
 */
export function askTemplateData(what, data, gate) {
  if ($('dlg-gfx-update').open) return Promise.resolve(null);
  setText($('gfx-update-what'), what);
  const area = $('gfx-update-data');
  area.value = dataText(data);
  const answer = ask($('dlg-gfx-update'), $('gfx-update-form'), $('gfx-update-error'), () => parseData(area.value), gate);
  area.focus();
  area.setSelectionRange(0, 0);
  area.scrollTop = 0;
  return answer;
}

/** Asks for the name of a function of template `label`; `what` says which graphic, `gate` as for
 * `askTemplateData`. Resolves with `{method}` or null. */
export async function askMethod(what, label, gate) {
  if ($('dlg-gfx-invoke').open) return null;
  setText($('gfx-invoke-what'), what);
  const input = $('gfx-invoke-method');
  input.value = lastMethod.get(label) ?? '';
  const answer = ask($('dlg-gfx-invoke'), $('gfx-invoke-form'), $('gfx-invoke-error'), () => parseMethod(input.value), gate);
  input.focus();
  input.select();
  const r = await answer;
  if (r) lastMethod.set(label, r.method);
  return r;
}

// An error is about the text as it was: typing again hides it.
$('gfx-update-data').addEventListener('input', () => setHidden($('gfx-update-error'), true));
$('gfx-invoke-method').addEventListener('input', () => setHidden($('gfx-invoke-error'), true));
// Enter makes a new line in the data; Ctrl+Enter (⌘+Enter) sends it.
$('gfx-update-data').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) {
    e.preventDefault();
    $('gfx-update-form').requestSubmit();
  }
});
$('gfx-update-cancel').addEventListener('click', () => $('dlg-gfx-update').close());
$('gfx-invoke-cancel').addEventListener('click', () => $('dlg-gfx-invoke').close());
