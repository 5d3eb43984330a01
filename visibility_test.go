package agenda

import "testing"

func TestSeesEntry(t *testing.T) {
	hier := func(viewer, owner int, privacy, entryGroup string) EntryView {
		return EntryView{GroupID: "g", Hierarchical: true, ViewerRank: viewer, MemberRank: owner, Privacy: privacy,
			EntryGroupID: entryGroup}
	}
	flat := EntryView{GroupID: "f", Privacy: PrivacyFull}
	tests := []struct {
		name  string
		views []EntryView
		want  int
	}{
		{"no shared group", nil, SeeNothing},
		{"takes part", []EntryView{{GroupID: "f", TakesPart: true}}, SeeDetails},
		{"superior, full, personal", []EntryView{hier(20, 10, PrivacyFull, "")}, SeeDetails},
		{"superior, full, this group's", []EntryView{hier(20, 10, PrivacyFull, "g")}, SeeDetails},
		{"superior, full, another group's", []EntryView{hier(20, 10, PrivacyFull, "other")}, SeeBusy},
		{"superior, freebusy", []EntryView{hier(20, 10, PrivacyFreeBusy, "")}, SeeBusy},
		{"equal rank, full", []EntryView{hier(10, 10, PrivacyFull, "")}, SeeBusy},
		{"subordinate, full", []EntryView{hier(5, 10, PrivacyFull, "")}, SeeBusy},
		{"flat group, full", []EntryView{flat}, SeeBusy},
		{"peer in one group, superior in another", []EntryView{flat, hier(20, 10, PrivacyFull, "")}, SeeDetails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SeesEntry(tc.views); got != tc.want {
				t.Errorf("SeesEntry = %d, want %d", got, tc.want)
			}
		})
	}
}
