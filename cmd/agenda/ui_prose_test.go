package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserKeepsLineBreaks: a description is text of several lines, as the
// API takes it. The UI asked for a group's in a one-line input, so the
// lines typed were lost (an Enter even sent the form), and every page
// showed a description's lines run together. Group descriptions are now
// typed in a text area, and descriptions are shown with their line breaks.
// One sent through the API with CR LF does not count as typed text in the
// rename form, which would hold the page's live refreshes back for good.
func TestBrowserKeepsLineBreaks(t *testing.T) {
	n, base, browser := browserTest(t)
	ana, bob := registerUser(t, n, "ana"), registerUser(t, n, "bob")

	p := newBrowserPage(t, browser, "ana")
	p.login(base, "ana", "password-ana")
	p.goTo("#/groups", `#main textarea[name="description"]`)
	p.typeInto(`#main input[name="name"]`, "Choir")
	p.typeInto(`#main textarea[name="description"]`, "Tuesdays at 7\nbring the scores")
	p.do("create the group", clickOn(`#main form button.primary[type="submit"]`))
	shown := `document.querySelector('#main p.prose') && document.querySelector('#main p.prose').innerText === 'Tuesdays at 7\nbring the scores'`
	if err := p.poll(`location.hash.startsWith('#/group/') && `+shown, 10*time.Second); err != nil {
		t.Fatalf("the new group's page does not show its description on two lines: %v", err)
	}
	id, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.hash.split('/')[2].split('?')[0]`))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Description string `json:"description"`
	}
	ana.do("GET", "/api/groups/"+id, nil).expect(t, http.StatusOK).JSON(t, &g)
	if g.Description != "Tuesdays at 7\nbring the scores" {
		t.Errorf("the group was created with description %q, want the two lines typed", g.Description)
	}
	if err := p.poll(`document.querySelector('#main textarea[name="group-description"]').value === 'Tuesdays at 7\nbring the scores'`, 5*time.Second); err != nil {
		t.Errorf("the rename form does not hold the description as it is: %v", err)
	}

	// A description sent with CR LF, and a live change to its page.
	var crlf struct {
		ID string `json:"id"`
	}
	ana.do("POST", "/api/groups", map[string]any{"name": "Band", "description": "Fridays\r\nin the garage", "hierarchical": false}).
		expect(t, http.StatusCreated).JSON(t, &crlf)
	p.goTo("#/group/"+crlf.ID, `#main textarea[name="group-description"]`)
	if err := p.poll(`document.querySelector('#main p.prose').innerText.replace(/\r\n?/g, '\n') === 'Fridays\nin the garage'`, 5*time.Second); err != nil {
		t.Errorf("a description sent with CR LF is not shown on two lines: %v", err)
	}
	ana.do("POST", "/api/groups/"+crlf.ID+"/members", map[string]any{"user_id": bob.userID}).expect(t, http.StatusCreated)
	if err := p.poll(`document.getElementById('main').textContent.includes('bob') && !document.querySelector('#main .stale')`, 10*time.Second); err != nil {
		t.Errorf("the page did not show bob invited live: the description's CR LF passed for typed text (%v)", err)
	}

	// An appointment's description, on its page.
	start := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	body := appointmentBody("Rehearsal", start, time.Hour)
	body["description"] = "Scales first\nthen the Requiem"
	var a struct {
		ID string `json:"id"`
	}
	ana.do("POST", "/api/appointments", body).expect(t, http.StatusCreated).JSON(t, &a)
	p.goTo("#/appointment/"+a.ID, `#main dd.prose`)
	if err := p.poll(`document.querySelector('#main dd.prose').innerText === 'Scales first\nthen the Requiem'`, 5*time.Second); err != nil {
		t.Errorf("the appointment's page runs its description's lines together: %v", err)
	}
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %s", fmt.Sprint(errs))
	}
}
