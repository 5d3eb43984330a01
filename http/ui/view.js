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
// action does those only while the user is still where they acted: the
// same address (a live refresh of that page is still that page).

let redraw = async () => {};

export function onRedraw(fn) { redraw = fn; }

// Action is one thing the user did on a page.
export class Action {
  constructor() { this.at = window.location.hash; }

  // here says whether the user is still on the page they acted on.
  get here() { return window.location.hash === this.at; }

  // redraw draws the page anew, if it is still the page acted on.
  redraw() { return this.here ? redraw() : Promise.resolve(); }

  // go goes to the next page, if the user is still on the page acted on.
  go(to) { if (this.here) window.location.hash = to; }
}

// busy runs fn, the action of one or more buttons, with them disabled: a
// double click or a second Enter sends it once, and nothing else they do
// starts while it runs. They come back when it is over, unless the user
// (or the action) left the page: the next page is loading, and the old one
// must not take a second click meanwhile.
export async function busy(buttons, fn) {
  const list = [].concat(buttons);
  if (list.some((b) => b.dataset.busy)) return undefined;
  const act = new Action();
  for (const b of list) { b.dataset.busy = '1'; b.disabled = true; }
  try {
    return await fn(act);
  } finally {
    if (act.here) for (const b of list) { delete b.dataset.busy; b.disabled = false; }
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
