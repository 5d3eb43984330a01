// How a view asks to be drawn again after the user's own action (an answer,
// a new rank, a member added). A view draws into a container that becomes
// the page only once it is complete (route, in app.js), so it cannot draw
// itself again into that container later: nothing would show. It asks the
// router instead, which draws the current page anew.

let redraw = async () => {};

export function onRedraw(fn) { redraw = fn; }

export function rerender() { return redraw(); }
