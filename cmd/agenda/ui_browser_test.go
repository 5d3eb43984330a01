package main

// The web UI in a real browser: Debian's chromium, driven by chromedp.

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserFlatGroupInvitationLive: ana creates a flat-group appointment
// in her browser; bob, in his own, sees the invitation arrive without a
// reload and accepts it; ana sees it confirmed without a reload. No console
// error anywhere. Screenshots go to a directory the log names
// (AGENDA_UI_SCREENSHOTS chooses it).
func TestBrowserFlatGroupInvitationLive(t *testing.T) {
	n, base, browser := browserTest(t)
	ana, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")
	registerUser(t, n, "carl")
	gid := createGroup(t, ana, "Book club", false)
	joinGroup(t, ana, bob, gid, 0)
	// Named as she is called when read, not when bob was invited.
	ana.do("PATCH", "/api/me", map[string]any{"display_name": "Ana Ruiz"}).expect(t, http.StatusOK)
	// Something in each week view, for the screenshots: on the Tuesday
	// and Wednesday of next week, so that both fall in the week shown
	// whatever today is (from a Sunday, "a week from today" and the day
	// after were in two weeks, and the test failed every Sunday).
	now := time.Now()
	monday := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, time.Local).AddDate(0, 0, 7-(int(now.Weekday())+6)%7)
	day := monday.AddDate(0, 0, 1)
	createAppt(t, ana, "Dentist", "", day)
	createAppt(t, bob, "Gym", "freebusy", day.Add(26*time.Hour))

	dir := os.Getenv("AGENDA_UI_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "agenda-ui-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)

	anaPage, bobPage := newBrowserPage(t, browser, "ana"), newBrowserPage(t, browser, "bob")
	anaPage.login(base, "ana", "password-ana")
	bobPage.login(base, "bob", "password-bob")
	bobPage.do("open invitations",
		clickOn(`#nav a[href="#/invitations"]`),
		chromedp.WaitVisible(chromedp.CSS("#no-invitations")))

	start := day.Add(28 * time.Hour) // the day after, 13:00 local
	anaPage.do("create the group appointment",
		clickOn(`a.button.primary[href="#/new"]`),
		chromedp.WaitVisible(chromedp.CSS(`input[name="title"]`)),
		typeIn(`input[name="title"]`, "Reading circle"),
		chromedp.SetValue(chromedp.CSS(`input[name="start"]`), start.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS(`input[name="end"]`), start.Add(90*time.Minute).Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS(`select[name="group"]`), gid),
		clickOn(`form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`#appointment-status[data-status="pending"]`)))
	anaPage.screenshot(dir, "1-ana-pending.png")

	// Bob's open invitations page shows it, and his panel tells him, live.
	bobPage.do("see the invitation arrive",
		chromedp.WaitVisible(chromedp.CSS(`#invitation-list .invitation`)),
		chromedp.WaitVisible(chromedp.CSS(`.note[data-type="invitation"]`)))
	bobPage.screenshot(dir, "2-bob-invited.png")
	bobPage.noteSays("invitation", iso("Ana Ruiz")+" (ana) invites you to “"+iso("Reading circle")+"”")
	bobPage.noteSays("group_invitation", iso("Ana Ruiz")+" (ana) invites you to join “"+iso("Book club")+"”")
	// Answering an invitation reads its notification (a review found it
	// left unread once answered).
	bobPage.do("accept", clickOn(`#invitation-list button.accept`),
		chromedp.WaitVisible(chromedp.CSS("#no-invitations")),
		chromedp.WaitVisible(chromedp.CSS(`.note[data-type="invitation"]:not(.unread)`)))
	// Following a notification reads it (a review found every one followed
	// still counted unread).
	bobPage.do("follow the group invitation's notification",
		clickOn(`.note[data-type="group_invitation"] a`),
		chromedp.WaitVisible(chromedp.CSS(`.note[data-type="group_invitation"]:not(.unread)`)))

	// An invitation to something already over is listed apart, and the
	// badge does not count it (a review found such ones nagging forever):
	// with one invitation to come counted, one to the past comes, and the
	// count stays.
	badge := func(want string) string {
		return `(() => { const b = document.getElementById('invite-count'); return !b.hidden && b.textContent === '` + want + `'; })()`
	}
	ana.do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Next chapter",
		"start": start.Add(48 * time.Hour).Format(time.RFC3339), "end": start.Add(49 * time.Hour).Format(time.RFC3339)}).expect(t, http.StatusCreated)
	if err := bobPage.poll(badge("1"), 10*time.Second); err != nil {
		t.Fatalf("the invitation to come is not counted: %v", err)
	}
	yesterday := time.Now().Add(-26 * time.Hour)
	ana.do("POST", "/api/groups/"+gid+"/appointments", map[string]any{"title": "Last chapter",
		"start": yesterday.Format(time.RFC3339), "end": yesterday.Add(time.Hour).Format(time.RFC3339)}).expect(t, http.StatusCreated)
	bobPage.do("see it apart on the invitations page",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/invitations'`),
		chromedp.WaitVisible(chromedp.CSS("#past-invitations")))
	// The page and the badge have both read the invitations since it came.
	time.Sleep(time.Second)
	pages, perr := chromedp.Run(bobPage.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#invitation-list h2, #past-invitations h3')].map((e) => e.textContent).join(' | ') + ' / badge ' + document.getElementById('invite-count').textContent`))
	if want := "Next chapter | Last chapter / badge 1"; perr != nil || pages != want {
		t.Errorf("the invitations page and badge read %q (%v), want %q", pages, perr, want)
	}

	anaPage.do("see it confirmed",
		chromedp.WaitVisible(chromedp.CSS(`#appointment-status[data-status="confirmed"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.note[data-type="confirmed"]`)))
	anaPage.screenshot(dir, "3-ana-confirmed.png")
	anaPage.noteSays("accepted", "bob accepted “"+iso("Reading circle")+"”")
	anaPage.noteSays("member_added", "bob joined “"+iso("Book club")+"”")

	for _, p := range []*browserPage{anaPage, bobPage} {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__noReload === true"))
		cancel()
		if err != nil || !kept {
			t.Errorf("%s's page was reloaded (or could not be asked: %v)", p.name, err)
		}
	}

	// The views of the screenshots in the README, and a phone-width one.
	anaPage.do("week view", chromedp.Navigate(base+"/ui/#/week?d="+day.Format("2006-01-02")),
		chromedp.WaitVisible(chromedp.CSS(".week .entry")), chromedp.WaitNotVisible(chromedp.CSS("#toast")))
	anaPage.screenshot(dir, "4-ana-week.png")
	anaPage.do("group view", chromedp.Navigate(base+"/ui/#/group/"+gid+"?d="+day.Format("2006-01-02")),
		chromedp.WaitVisible(chromedp.CSS(".group-agenda .busy")), chromedp.WaitNotVisible(chromedp.CSS("#toast")))
	anaPage.screenshot(dir, "5-ana-group.png")
	bobPage.do("phone width", chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/ui/#/week?d="+day.Format("2006-01-02")),
		chromedp.WaitVisible(chromedp.CSS(".week .entry")), chromedp.WaitNotVisible(chromedp.CSS("#toast")))
	bobPage.screenshot(dir, "6-bob-phone.png")

	for _, p := range []*browserPage{anaPage, bobPage} {
		if errs := p.consoleErrors(); len(errs) > 0 {
			t.Errorf("%s's console logged errors:\n\t%s", p.name, strings.Join(errs, "\n\t"))
		}
	}

	// The page shows the user's own action at once. A live refresh does not
	// redraw a page whose form has the focus, and a review found the group
	// page kept its old members after an Enter in the add form: the view
	// drew itself again into a container no longer on the page.
	// The form typed into is the new page's (goTo): straight from the
	// group's other week, the old page's form was found and typed into
	// while the new one loaded, and the navigation, landing between the
	// Enter and its redraw, put the focus on the heading (a CI run).
	// (Not by clicking its link: a live refresh may redraw the groups page
	// between finding the link and clicking it.)
	anaPage.goTo("#/groups", `#main input[name="name"]`)
	anaPage.goTo("#/group/"+gid, `#main input[name="username"]`)
	anaPage.typeInto(`input[name="username"]`, "carl"+kb.Enter)
	if err := anaPage.poll(`[...document.querySelectorAll('#main td')].some((td) => td.textContent.includes('carl') && td.textContent.includes('invited'))`, 20*time.Second); err != nil {
		t.Errorf("carl never shown as invited on ana's group page after adding him: %v", err)
	}
	// The focus stays in the add form, ready for the next name, through
	// the live refresh that the invitation's own event brings (a review
	// found it fell to the page's body).
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(anaPage.ctx, 10*time.Second)
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.activeElement && document.activeElement.name) || document.activeElement.tagName`))
	cancel()
	if err != nil || focus != "username" {
		// Which page holds it says why (a CI run once saw "H1").
		page, _ := chromedp.Run(anaPage.ctx, chromedp.Evaluate[string](`location.hash + ' ' + ((document.querySelector('#main h1') || {}).textContent || '') + ' / ' + ((document.querySelector('#main .error') || {}).textContent || '')`))
		t.Errorf("after adding carl the focus is on %q (%v), want the username field; the page: %s", focus, err, page)
	}

	// A clash is shown as the clashing slot, in words. (The browser itself
	// logs the 409 answer; that is the only error allowed from here on.)
	clash := day.Add(30 * time.Minute) // inside "Dentist"
	anaPage.do("create a clashing appointment",
		chromedp.Navigate(base+"/ui/#/new"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="title"]`)),
		typeIn(`input[name="title"]`, "Clash"),
		chromedp.SetValue(chromedp.CSS(`input[name="start"]`), clash.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS(`input[name="end"]`), clash.Add(time.Hour).Format("2006-01-02T15:04")),
		clickOn(`form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`.error .conflicts li`)))
	ctx, cancel = context.WithTimeout(anaPage.ctx, 10*time.Second)
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".error")))
	cancel()
	if err != nil || !strings.Contains(shown, "Dentist") || strings.Contains(shown, "{") {
		t.Errorf("conflict shown as %q (%v), want the clashing slot in words", shown, err)
	}
	anaPage.screenshot(dir, "7-ana-conflict.png")
	if errs := anaPage.consoleErrors("409"); len(errs) > 0 {
		t.Errorf("ana's console logged errors:\n\t%s", strings.Join(errs, "\n\t"))
	}

	// Editing only a title keeps the times to the second: the form shows
	// none, and a review found it sent them truncated. The new title is
	// pasted from the page, with the isolates the UI puts around names
	// (a review found the server refused such a paste).
	precise := day.Add(50*time.Hour + 30*time.Second)
	pid, _ := createAppt(t, bob, "Precise", "", precise)
	bobPage.do("retitle it",
		chromedp.Navigate(base+"/ui/#/edit/"+pid),
		chromedp.WaitVisible(chromedp.CSS(`input[name="title"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="title"]`), iso("Precise")+", renamed"),
		clickOn(`form button.primary[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`#appointment-status`)))
	var edited struct {
		Title string    `json:"title"`
		Start time.Time `json:"start"`
	}
	bob.withT(t).do("GET", "/api/appointments/"+pid, nil).expect(t, http.StatusOK).JSON(t, &edited)
	if edited.Title != "Precise, renamed" || !edited.Start.Equal(precise) {
		t.Errorf("after a title edit in the UI: %q at %v, want the new title at %v", edited.Title, edited.Start, precise)
	}

	// The account page changes the display name, and the header follows;
	// a name pasted from the page loses its isolates, as above.
	bobPage.do("rename himself",
		chromedp.Navigate(base+"/ui/#/me"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="display_name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="display_name"]`), iso("Bobby")),
		clickOn(`form button.primary[type="submit"]`))
	ctx, cancel = context.WithTimeout(bobPage.ctx, 20*time.Second)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('who').textContent === 'Bobby'`))
	cancel()
	if err != nil {
		t.Errorf("bob's header does not show his new name: %v", err)
	}
	// The page, drawn anew with the same values, says it saved them.
	if err := bobPage.poll(`document.getElementById('toast').textContent === 'Profile saved.'`, 5*time.Second); err != nil {
		t.Errorf("saving the profile said nothing: %v", err)
	}
	if u := bob.me(); u.DisplayName != "Bobby" {
		t.Errorf("bob's display name is %q, want Bobby", u.DisplayName)
	}

	// Logging out ends the token on the server, not only in the page (a
	// newcomer's walk-through found the button only forgot it).
	ctx, cancel = context.WithTimeout(bobPage.ctx, 10*time.Second)
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.parse(localStorage.getItem('agenda.session')).token"))
	cancel()
	if err != nil || token == "" {
		t.Fatalf("bob's token in the page: %q, %v", token, err)
	}
	bobPage.do("log out", clickOn("#logout"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		// Logged out, the navigation is hidden (a review found CSS showing
		// every element marked hidden that it gave a display).
		chromedp.WaitNotVisible(chromedp.CSS("#nav")),
		chromedp.WaitNotVisible(chromedp.CSS("#session")))
	// Nor does the title keep the last page's (an appointment's title, in
	// a shared computer's tabs and history).
	if err := bobPage.poll(`document.title === 'Log in · Agenda'`, 5*time.Second); err != nil {
		title, _ := chromedp.Run(bobPage.ctx, chromedp.Evaluate[string](`document.title`))
		t.Errorf("after logging out the title is %q, want the login page's", title)
	}
	old := newClient(t, n)
	old.token = token
	expectError(t, old.do("GET", "/api/me", nil), http.StatusUnauthorized, "unauthorized")
}

// TestBrowserSessionAndClusterPage: what a page does about the world
// changing under it. A second tab follows a logout in the first at once
// (it shares the session, and a review found it looked logged in until
// its next request); the cluster page keeps refreshing after a refresh
// that failed (a review found it stopped for good).
func TestBrowserSessionAndClusterPage(t *testing.T) {
	n, base, browser := browserTest(t)
	anaClient, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")

	ana := newBrowserPage(t, browser, "ana")
	ana.login(base, "ana", "password-ana")

	// The cluster page: its first status request fails; the page says so,
	// then shows the status by itself.
	ana.do("open the cluster page with its status failing once",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch; let failed = false;
			window.fetch = (url, init) => {
				if (!failed && String(url).includes('/cluster/status')) { failed = true; return Promise.reject(new TypeError('network down')); }
				return real(url, init);
			};
		})()`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/cluster'`))
	heading := `(document.querySelector('#main h1') || {}).textContent === `
	if err := ana.poll(heading+`'Could not load this page'`, 10*time.Second); err != nil {
		t.Fatalf("the cluster page did not say its status failed: %v", err)
	}
	if err := ana.poll(heading+`'Cluster'`, 20*time.Second); err != nil {
		t.Errorf("the cluster page never showed the status after one failed request: %v", err)
	}
	// Its refreshes keep the focus on the page (a walk-through found it
	// fell to the body every 3 s).
	ana.do("let the cluster page refresh", chromedp.Evaluate[chromedp.Void](`document.querySelector('#main h1').focus()`), chromedp.Sleep(3500*time.Millisecond))
	if focus, err := chromedp.Run(ana.ctx, chromedp.Evaluate[string](`document.activeElement.tagName`)); err != nil || focus != "H1" {
		t.Errorf("after a refresh of the cluster page the focus is on %q (%v), want its heading", focus, err)
	}

	// Focus, from a walk-through: Mark read hands it to the notification;
	// the new-appointment form gives it to the title; a focused but empty
	// field does not hold a group page's live update back.
	gid := createGroup(t, bob, "Walkers", false)
	bob.withT(t).do("POST", "/api/groups/"+gid+"/members", map[string]any{"user_id": anaClient.userID}).expect(t, http.StatusCreated)
	// Its answer slowed, so that the live event of the read comes first
	// (as CI once saw): either way the focus moves on.
	ana.do("mark the invitation read from the keyboard",
		slowFetch(`m === 'POST' && u.endsWith('/read')`),
		chromedp.WaitVisible(chromedp.CSS(`.note[data-type="group_invitation"] button`)),
		focusOn(`.note[data-type="group_invitation"] button`), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.CSS(`.note[data-type="group_invitation"] button`)))
	if focus, err := chromedp.Run(ana.ctx, chromedp.Evaluate[string](`document.activeElement.tagName + ' ' + (document.activeElement.closest('.note') ? 'in the note' : '')`)); err != nil || focus != "A in the note" {
		t.Errorf("after Mark read the focus is on %q (%v), want the notification's link", focus, err)
	}
	ana.do("open the new-appointment form", chromedp.Evaluate[chromedp.Void](`location.hash = '#/new'`), chromedp.WaitVisible(chromedp.CSS(`input[name="title"]`)))
	if err := ana.poll(`document.activeElement === document.querySelector('#main input[name="title"]')`, 5*time.Second); err != nil {
		t.Errorf("the new-appointment form does not give the focus to its title: %v", err)
	}
	anaClient.withT(t).do("POST", "/api/groups/"+gid+"/accept", nil).expect(t, http.StatusOK)
	ana.do("open the group, its add field focused",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/group/`+gid+`'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="username"]`)),
		focusOn(`#main input[name="username"]`))
	bob.withT(t).do("PATCH", "/api/groups/"+gid, map[string]any{"name": "Walkers and talkers"}).expect(t, http.StatusOK)
	if err := ana.poll(heading+`'Walkers and talkers'`, 10*time.Second); err != nil {
		t.Errorf("a group page whose empty add field has the focus did not follow a rename: %v", err)
	}
	if focus, err := chromedp.Run(ana.ctx, chromedp.Evaluate[string](`document.activeElement.name || document.activeElement.tagName`)); err != nil || focus != "username" {
		t.Errorf("after the live refresh the focus is on %q (%v), want the add field still", focus, err)
	}
	// Free slots are looked for from the next full hour, not from one
	// already under way (a walk-through booked a slot begun 27 minutes
	// before).
	ana.do("open the free-slot finder", chromedp.Evaluate[chromedp.Void](`location.hash = '#/free/`+gid+`'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[type="datetime-local"]`)))
	if ok, err := chromedp.Run(ana.ctx, chromedp.Evaluate[bool](`new Date(document.querySelector('#main input[type="datetime-local"]').value) >= new Date()`)); err != nil || !ok {
		t.Errorf("the free-slot finder starts in the past (%v)", err)
	}

	// A second tab of the same browser shares the session; a logout in
	// the first logs it out too, without it asking anything.
	second := ana.newTab("ana's second tab")
	second.do("open a second tab", chromedp.Navigate(base+"/ui/#/week"),
		chromedp.WaitVisible(chromedp.CSS("#nav")),
		chromedp.WaitVisible(chromedp.CSS(`#live-state[data-state="live"]`)))
	ana.do("rename herself in the first", chromedp.Navigate(base+"/ui/#/me"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="display_name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="display_name"]`), "Anabel"),
		clickOn(`form button.primary[type="submit"]`))
	if err := second.poll(`document.getElementById('who').textContent === 'Anabel'`, 10*time.Second); err != nil {
		t.Errorf("the second tab's header did not follow a new display name: %v", err)
	}
	// No error until the logouts below. Then a request under way (the
	// new name's live frame refreshes both tabs) may meet the ended
	// session: 401, which the UI answers with the login form.
	for _, p := range []*browserPage{ana, second} {
		if errs := p.consoleErrors(); len(errs) > 0 {
			t.Errorf("%s's console logged errors before the logout:\n\t%s", p.name, strings.Join(errs, "\n\t"))
		}
	}
	ana.do("log out in the first", chromedp.Navigate(base+"/ui/#/week"), chromedp.WaitVisible(chromedp.CSS("#logout")),
		clickOn("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if err := second.poll(`!!document.getElementById('login-form') && document.getElementById('nav').hidden`, 10*time.Second); err != nil {
		t.Errorf("the second tab still looks logged in after a logout in the first: %v", err)
	}
	// And a login in one tab reaches the other.
	ana.do("log in again", typeIn(`#login-form input[name="username"]`, "ana"),
		typeIn(`#login-form input[name="password"]`, "password-ana"),
		clickOn(`#login-form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS("#nav")))
	if err := second.poll(`!document.getElementById('nav').hidden && !document.getElementById('login-form')`, 10*time.Second); err != nil {
		t.Errorf("the second tab did not follow a login in the first: %v", err)
	}

	// A page still loading when its session ends never draws over the
	// login form: its answer, asked for with the old session, is
	// dropped (a read found the page of a user logged out drawn after
	// the logout).
	ana.do("log out while the groups page loads",
		slowAnswers(`/api/groups$`, 3*time.Second),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.Sleep(200*time.Millisecond),
		clickOn("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.Sleep(4*time.Second))
	if err := ana.poll(`!!document.getElementById('login-form') && document.getElementById('nav').hidden && `+heading+`'Log in'`, 5*time.Second); err != nil {
		text, _ := chromedp.Run(ana.ctx, chromedp.Evaluate[string]("document.getElementById('main').innerText"))
		t.Errorf("a page loading at the logout was drawn after it: %v\n%s", err, text)
	}
	for _, p := range []*browserPage{ana, second} {
		if errs := p.consoleErrors("401"); len(errs) > 0 {
			t.Errorf("%s's console logged errors:\n\t%s", p.name, strings.Join(errs, "\n\t"))
		}
	}
}
