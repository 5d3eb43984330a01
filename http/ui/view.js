// How a view asks to be drawn again after the user's own action (an answer,
// a new rank, a member added). A view draws into a container that becomes
// the page only once it is complete (route, in app.js), so it cannot draw
// itself again into that container later: nothing would show. It asks the
// router instead, which draws the current page anew.

let redraw = async () => {};

export function onRedraw(fn) { redraw = fn; }

export function rerender() { return redraw(); }

// weekParam reads ?d=YYYY-MM-DD as a local date; anything else (missing,
// malformed, impossible) is today.
export function weekParam(params) {
  const raw = params.get('d');
  const m = raw && /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return new Date();
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.getMonth() === Number(m[2]) - 1 && d.getDate() === Number(m[3]) ? d : new Date();
}
