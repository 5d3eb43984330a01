// What a view's actions may do to the page once their answer comes back.
//
// A view draws into a container that becomes the page only once it is
// complete (route, in app.js), so it cannot draw itself again into that
// container later: nothing would show. It asks the router instead, which
// draws the current page anew.
//
// An answer may also come back after the user moved on: to another page,
// or logged out. What it does to the page then (draw it anew, go to the
// next page) would land on a page they never acted on: drawn over a form
// they are filling in, or taking them away from where they went. So an
// action does those only while the user is still on the page they acted
// on: no navigation asked for since, nor loading when they acted (the old
// page stays on screen, and clickable, while the next one loads). A live
// refresh of the page, or a redraw after an action, is still that page.

import { describe, session } from './api.js';
import { fill, errorBox } from './dom.js';

let redraw = async () => {};

export function onRedraw(fn) { redraw = fn; }

// tell says something wherever the user is now (app.js's toast).
let tell = () => {};

export function onTell(fn) { tell = fn; }

// The router counts the navigations asked for, and says which one the page
// on screen is (the last asked, once it is drawn).
let asked = 0;
let shown = 0;
export function navigationAsked() { return ++asked; }
export function navigationShown(n) { shown = n; }

// Action is one thing the user did on a page.
export class Action {
  // from is the button acted with: its redraw keeps what the outputs of
  // other parts of the page say (keepOutputs).
  constructor(from) {
    this.from = from;
    this.at = window.location.hash;
    this.asked = asked;
    this.page = shown === asked ? shown : -1;
    this.token = (session() || {}).token;
  }

  // here says whether the user is still on the page they acted on.
  get here() { return this.page === shown && this.page === asked && window.location.hash === this.at; }

  // movedOn says whether the user asked for another page since they acted
  // (an action taken while the next page loads is still theirs to finish:
  // a question it asks is not asked over a page they went to later).
  get movedOn() { return asked !== this.asked || window.location.hash !== this.at; }

  // redraw draws the page anew, if it is still the page acted on.
  redraw() { return this.here ? redraw(this.from) : Promise.resolve(); }

  // go goes to the next page, if the user is still on the page acted on.
  go(to) { if (this.here) window.location.hash = to; }

  // done says, in the toast (a polite live region), what the action did
  // where the page shows it only as the same values drawn anew (a saved
  // profile, a rank set): while the user is still on the page acted on.
  done(text) { if (this.here) tell(text); }

  // fail shows that the action failed: box (by default the error in words)
  // in out, a part of the page acted on, while that part is on screen, or
  // else in its like on the page a live refresh drew anew meanwhile (the
  // same card's). Once the user moved on, or the part is gone from the
  // page drawn anew, the toast says it instead:
  // a failure must not pass unseen (reviews found one lost to each). It
  // tells no one who signed in since, and says nothing of a 401: the
  // session's end is told on its own.
  fail(out, err, box = errorBox(describe(err))) {
    const shown = this.here ? (out.isConnected ? out : outputLike(out)) : null;
    if (shown) {
      fill(shown, box);
      // Said where it cannot be seen (above a long page scrolled down, a
      // review found a refused deletion so), a failure passes for a tap
      // that did nothing: it is brought into view.
      const r = shown.getBoundingClientRect();
      if (r.bottom < 0 || r.top > window.innerHeight) shown.scrollIntoView({ block: 'nearest' });
    } else if (err.status !== 401 && (session() || {}).token === this.token) {
      tell(this.here ? `That did not work: ${describe(err)}` : `What you did on the page you left did not work: ${describe(err)}`);
    }
  }
}

// keyOutputs names each action output of a page about to be shown (its
// assertive live regions) by its place: the card, row or section it is in
// (its holder: the nearest data-id or data-key, or else the page) and its
// rank there. The same output on the page drawn anew has the same name, so
// what an output says survives a redraw (keepOutputs), and an answer that
// comes after a live refresh is said in the new page's output
// (Action.fail). A test run beside the deploy tests saw a clash said on an
// invitation's card, then wiped by an event's refresh. Outputs outside any
// holder are named by their rank on the page: a page with several, some
// drawn only at times, should give each a holder.
export function keyOutputs(root) {
  const seen = new Map();
  for (const o of root.querySelectorAll('[aria-live="assertive"]')) {
    const place = placeOf(o);
    const n = seen.get(place) || 0;
    seen.set(place, n + 1);
    o.dataset.out = `${place}#${n}`;
  }
}

// holderAbove is the nearest element above el with a data-id or data-key.
function holderAbove(el) {
  return el.parentElement && el.parentElement.closest('[data-id], [data-key]');
}

// placeOf names the holder of el: its data-id or data-key, or '' for the
// page itself.
function placeOf(el) {
  const holder = holderAbove(el);
  return holder ? (holder.dataset.id || holder.dataset.key) : '';
}

// holderOf is the holder of o in the page root: the element placeOf names.
function holderOf(o, root) {
  const holder = holderAbove(o);
  return holder && root.contains(holder) ? holder : root;
}

// outputLike is the output on the page shown now that has out's name, if any.
function outputLike(out) {
  if (!out.dataset.out) return null;
  return [...document.querySelectorAll('#main [data-out]')].find((o) => o.dataset.out === out.dataset.out) || null;
}

// keepOutputs puts what the outputs of the page shown (from) say into those
// of the same name on the page drawn anew (to), before it is shown, where
// their holder reads the same (sameText): what was said of a card or page
// that changed since may no longer hold ("someone changed this, reload").
// An action's own redraw (acted: its button) keeps none of its own part's:
// the action answered them. Moved, a message was announced once and is not
// an alert again.
export function keepOutputs(from, to, sameText, acted) {
  const named = new Map([...to.querySelectorAll('[data-out]')].map((o) => [o.dataset.out, o]));
  const own = acted ? `${placeOf(acted)}#` : null;
  for (const o of from.querySelectorAll('[data-out]')) {
    const now = named.get(o.dataset.out);
    if (!o.childNodes.length || !now || (own && o.dataset.out.startsWith(own)) || !sameText(holderOf(o, from), holderOf(now, to))) continue;
    for (const el of o.querySelectorAll('[role="alert"]')) el.removeAttribute('role');
    now.replaceChildren(...o.childNodes);
  }
}

// busy runs fn, the action of one or more buttons, with them marked busy: a
// double click or a second Enter sends it once, and nothing else they do
// starts while it runs. They come back when it is over, unless the user
// (or the action) left the page: the next page is loading, and the old one
// must not take a second click meanwhile. Marked with aria-disabled, not
// disabled: a disabled button loses the focus (to the page's body), and
// the keyboard user with it.
export async function busy(buttons, fn) {
  const list = [].concat(buttons);
  if (list.some((b) => b.getAttribute('aria-disabled') === 'true')) return undefined;
  const act = new Action(list[0]);
  for (const b of list) b.setAttribute('aria-disabled', 'true');
  try {
    return await fn(act);
  } finally {
    if (act.here) for (const b of list) b.removeAttribute('aria-disabled');
  }
}

// latest numbers the requests of a control that may ask again before the
// last answer came (a search as one types): only the answer to the latest
// request is shown. Call it before asking; the function it returns says
// whether the answer is still the latest.
export function latest() {
  let n = 0;
  return () => {
    const mine = ++n;
    return () => mine === n;
  };
}
