package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agendahq/agenda/readmodel"
)

// TestBrowserNewGroupAppointmentForAnyOfOnesGroups: the form's list of
// groups holds the first readmodel.ListCap by name. A review opened "New
// group appointment" on a group beyond them: the list had no option for
// it, the form said "Only in your agenda.", and Create made a personal
// appointment. The group asked for is now read on its own; one that is not
// the user's (left since) is said, not silently replaced.
func TestBrowserNewGroupAppointmentForAnyOfOnesGroups(t *testing.T) {
	n, base, browser := browserTest(t)
	ana := registerUser(t, n, "ana")
	for i := range readmodel.ListCap {
		createGroup(t, ana, fmt.Sprintf("a%04d", i), false)
	}
	zeta := createGroup(t, ana, "zeta", true)
	left := createGroup(t, ana, "left", false)
	bob := registerUser(t, n, "bob")
	joinGroup(t, ana, bob, left, 0)
	ana.do("DELETE", "/api/groups/"+left+"/members/"+ana.userID, nil).expect(t, http.StatusNoContent)

	p := newBrowserPage(t, browser, "ana")
	p.login(base, "ana", "password-ana")
	p.goTo("#/new?group="+zeta, `#main select[name="group"]`)
	if err := p.poll(fmt.Sprintf(`document.querySelector('#main select[name="group"]').value === %q`, zeta), 5*time.Second); err != nil {
		t.Fatalf("the form does not offer the group beyond the first %d: %v", readmodel.ListCap, err)
	}
	p.typeInto(`#main input[name="title"]`, "Offsite")
	p.do("create it", clickOn(`#main form button.primary[type="submit"]`))
	if err := p.poll(`location.hash.startsWith('#/appointment/')`, 10*time.Second); err != nil {
		t.Fatalf("the appointment was not created: %v", err)
	}
	id, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.hash.split('/')[2]`))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		GroupID *string `json:"group_id"`
	}
	ana.do("GET", "/api/appointments/"+id, nil).expect(t, http.StatusOK).JSON(t, &a)
	if a.GroupID == nil || *a.GroupID != zeta {
		t.Errorf("the appointment was made with group %v, want zeta's %s", a.GroupID, zeta)
	}

	p.goTo("#/new?group="+left, `#main select[name="group"]`)
	if err := p.poll(`document.getElementById('main').textContent.includes('not one of yours')`, 5*time.Second); err != nil {
		t.Errorf("a group left since passes for a personal appointment without a word: %v", err)
	}
	if v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('#main select[name="group"]').value`)); err != nil || strings.TrimSpace(v) != "" {
		t.Errorf("the form chose %q for a group left since (%v)", v, err)
	}
}
