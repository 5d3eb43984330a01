package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserNotificationsNameWhoActed: a notification says who did what,
// and only what they did. A review found the first wording false where one
// action does another's work: an organiser removed from the group was said
// to have left it, and the heir of a creator who left was told the creator
// had set their rank. An invitation to a group names who sends it (it
// used to say only the group's name).
func TestBrowserNotificationsNameWhoActed(t *testing.T) {
	n, base, browser := browserTest(t)
	ana, bob, carl := registerUser(t, n, "ana"), registerUser(t, n, "bob"), registerUser(t, n, "carl")
	ana.do("PATCH", "/api/me", map[string]any{"display_name": "Ana Ruiz"}).expect(t, http.StatusOK)
	team := createGroup(t, ana, "Team", true)
	joinGroup(t, ana, bob, team, 10)
	joinGroup(t, ana, carl, team, 5)
	// mallory calls herself "ana": the username beside the name gives her
	// away wherever she is named.
	mallory := registerUser(t, n, "mallory")
	mallory.do("PATCH", "/api/me", map[string]any{"display_name": "ana"}).expect(t, http.StatusOK)
	joinGroup(t, ana, mallory, team, 1)
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	bob.do("POST", "/api/groups/"+team+"/appointments", map[string]any{"title": "Sync",
		"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339)}).expect(t, http.StatusCreated)
	carlPage := newBrowserPage(t, browser, "carl")
	carlPage.login(base, "carl", "password-carl")
	carlPage.noteSays("imposed", "bob put “"+iso("Sync")+"” in your agenda")
	// The group names people as they chose, with the username, which alone
	// tells them apart, beside a chosen name.
	carlPage.do("open the group", chromedp.Evaluate[chromedp.Void](`location.hash = '#/group/`+team+`'`),
		chromedp.WaitVisible(chromedp.CSS(`table.members`)))
	got, err := chromedp.Run(carlPage.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('table.members tbody tr td:first-child, table.group-agenda tbody th')].map((c) => c.textContent).join(' | ')`))
	if want := iso("Ana Ruiz") + " (ana)creator | bob | carl | " + iso("ana") + " (mallory) | " + iso("Ana Ruiz") + " (ana) | bob | carl | " + iso("ana") + " (mallory)"; err != nil || got != want {
		t.Errorf("the group's members and agenda rows read %q (%v), want %q", got, err, want)
	}

	// ana removes bob: his appointment ends for carl, by ana's doing.
	ana.do("DELETE", "/api/groups/"+team+"/members/"+bob.userID, nil).expect(t, http.StatusNoContent)
	carlPage.noteSays("cancelled", iso("Ana Ruiz")+" (ana) removed its organiser from the group, so “"+iso("Sync")+"” is cancelled")
	bobPage := newBrowserPage(t, browser, "bob")
	bobPage.login(base, "bob", "password-bob")
	bobPage.noteSays("member_removed", iso("Ana Ruiz")+" (ana) removed you from “"+iso("Team")+"”")
	bobPage.noteSays("cancelled", iso("Ana Ruiz")+" (ana) removed you from the group, so “"+iso("Sync")+"” is cancelled")

	// ana leaves: carl inherits her rights and her rank.
	ana.do("DELETE", "/api/groups/"+team+"/members/"+ana.userID, nil).expect(t, http.StatusNoContent)
	carlPage.noteSays("creator_changed", iso("Ana Ruiz")+" (ana) left “"+iso("Team")+"”: you now hold the creator's rights")
	carlPage.noteSays("rank_changed", iso("Ana Ruiz")+" (ana) left “"+iso("Team")+"”: you now hold its top rank")
	// An invitation to a group says who sends it, named as everywhere else.
	other := createGroup(t, mallory, "Team too", false)
	mallory.do("POST", "/api/groups/"+other+"/members", map[string]any{"user_id": bob.userID}).expect(t, http.StatusCreated)
	bobPage.do("open the invitations", chromedp.Evaluate[chromedp.Void](`location.hash = '#/invitations'`),
		chromedp.WaitVisible(chromedp.CSS(`#main .card h3`)))
	got, err = chromedp.Run(bobPage.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#main .card')].map((c) => [...c.querySelectorAll('h3, p')].map((e) => e.textContent).join(' / ')).join(' | ')`))
	if want := "Team too / Flat group / From " + iso("ana") + " (mallory)."; err != nil || got != want {
		t.Errorf("bob's group invitations read %q (%v), want %q", got, err, want)
	}
	for _, p := range []*browserPage{carlPage, bobPage} {
		if errs := p.consoleErrors(); len(errs) > 0 {
			t.Errorf("%s's console: %v", p.name, errs)
		}
	}

	// The group's own page says so too. The UI learns that bob is only
	// invited from the group's 404, which the browser logs.
	bobPage.do("open the group he is invited to", chromedp.Evaluate[chromedp.Void](`location.hash = '#/group/`+other+`'`),
		chromedp.WaitVisible(chromedp.CSS(`#main a[href="#/invitations"]`)))
	got, err = chromedp.Run(bobPage.ctx, chromedp.Evaluate[string](`document.querySelector('#main p').textContent`))
	if want := iso("ana") + " (mallory) invites you to this flat group. Until you accept, you see nothing of it."; err != nil || got != want {
		t.Errorf("the group bob is invited to reads %q (%v), want %q", got, err, want)
	}
	if errs := bobPage.consoleErrors("404"); len(errs) > 0 {
		t.Errorf("bob's console: %v", errs)
	}
	// An invitation withdrawn is told as such, not as a removal (a
	// walk-through found "you are no longer a member, nor invited").
	mallory.do("DELETE", "/api/groups/"+other+"/members/"+bob.userID, nil).expect(t, http.StatusNoContent)
	bobPage.noteSays("member_removed", iso("ana")+" (mallory) withdrew your invitation to “"+iso("Team too")+"”")

	// What is copied from the page brings the isolates around names along:
	// the forms take them out of names and usernames (a review found "Add
	// by username" sent them, and the server knew no such user), and leave
	// descriptions as typed.
	got, err = chromedp.Run(bobPage.ctx, chromedp.Evaluate[string](`import('/ui/dom.js').then((m) =>
		[m.typedUsername(' \u2068Carl\u2069'), m.typedUsername('\u212Aim'), m.withoutIsolates('\u2068Team\u2069 2'), m.iso('x')].join('|'))`, chromedp.EvalAwaitPromise))
	// Only A-Z fold, as on the server: toLowerCase would make kim of the
	// Kelvin sign's look-alike.
	if want := "carl|\u212Aim|Team 2|" + iso("x"); err != nil || got != want {
		t.Errorf("the UI reads pasted names as %q (%v), want %q", got, err, want)
	}
}
