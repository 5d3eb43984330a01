// My account: display name and email, and the password. A new password
// ends every login token, this one included: the page then logs out.

import { api, describe, session, saveSession } from './api.js';
import { h, field, errorBox, fill, ownName, typedName, pasteRoom } from './dom.js';
import { busy } from './view.js';

export async function meView(main, onPasswordChanged) {
  const u = await api('GET', '/api/me');
  const out = h('div', { 'aria-live': 'assertive' });
  const displayName = h('input', { name: 'display_name', value: u.display_name || '', maxlength: 100 + pasteRoom, autocomplete: 'name', required: true });
  const email = h('input', { name: 'email', type: 'email', value: u.email || '', autocomplete: 'email' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const profile = h('form', { class: 'form' }, h('h2', {}, 'Profile'),
    field('Display name', displayName), field('Email', email),
    h('div', { class: 'actions' }, save), out);
  profile.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const named = typedName(displayName.value);
    if (!named) { fill(out, errorBox('Please give a display name: it is how others see you.')); displayName.focus(); return; }
    busy(save, async (act) => {
      try {
        // The version shown: a change made meanwhile elsewhere is not overwritten.
        const saved = await api('PATCH', '/api/me', { display_name: named, email: email.value }, u.version);
        // The header and the stored session are of whoever is signed in
        // now: another user, if this one logged out meanwhile.
        const s = session();
        if (s && s.user.id === saved.id) {
          saveSession({ ...s, user: { ...s.user, display_name: saved.display_name } });
          document.getElementById('who').textContent = ownName(saved);
        }
        await act.redraw();
        act.done('Profile saved.');
      } catch (err) { act.fail(out, err); }
    });
  });

  const current = h('input', { name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' });
  const next = h('input', { name: 'new_password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const change = h('button', { type: 'submit' }, 'Change password');
  // Each form says what refused it beside its own button (a review found
  // a password's refusal far above it, over the profile).
  const passwordOut = h('div', { 'aria-live': 'assertive' });
  const password = h('form', { class: 'form' }, h('h2', {}, 'Password'),
    field('Current password', current), field('New password', next, 'At least 8 characters. Every device will have to log in again.'),
    h('div', { class: 'actions' }, change), passwordOut);
  password.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (next.value.length < 8) { fill(passwordOut, errorBox('The new password needs at least 8 characters.')); next.focus(); return; }
    const asked = session();
    busy(change, async (act) => {
      try {
        await api('PUT', '/api/me/password', { current_password: current.value, new_password: next.value });
        // Every token of this user ends: log out, unless this tab has
        // meanwhile logged in as someone else.
        const now = session();
        if (!now || (asked && now.token === asked.token)) onPasswordChanged();
      } catch (err) {
        const wrong = err.status === 403 && err.details && err.details.field === 'current_password';
        act.fail(passwordOut, err, errorBox(wrong ? 'The current password is not right.' : describe(err)));
        if (wrong && act.here) current.focus();
      }
    });
  });

  fill(main, h('h1', {}, `My account: ${u.username}`), profile, password);
}
