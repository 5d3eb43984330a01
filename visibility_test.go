package agenda

import "testing"

func TestSeesEntry(t *testing.T) {
	hier := func(viewer, owner int, privacy string) EntryRelation {
		return EntryRelation{GroupID: "g", Hierarchical: true, ViewerRank: viewer, OwnerRank: owner, Privacy: privacy}
	}
	flat := EntryRelation{GroupID: "f", Privacy: PrivacyFull}
	tests := []struct {
		name      string
		takesPart bool
		relations []EntryRelation
		want      int
	}{
		{"no relation", false, nil, SeeNothing},
		{"takes part, no group", true, nil, SeeDetails},
		{"takes part, peer", true, []EntryRelation{hier(10, 10, PrivacyFreeBusy)}, SeeDetails},
		{"superior, full", false, []EntryRelation{hier(20, 10, PrivacyFull)}, SeeDetails},
		{"superior, freebusy", false, []EntryRelation{hier(20, 10, PrivacyFreeBusy)}, SeeBusy},
		{"equal rank, full", false, []EntryRelation{hier(10, 10, PrivacyFull)}, SeeBusy},
		{"subordinate, full", false, []EntryRelation{hier(5, 10, PrivacyFull)}, SeeBusy},
		{"flat group, full", false, []EntryRelation{flat}, SeeBusy},
		{"peer in one group, superior in another", false, []EntryRelation{flat, hier(20, 10, PrivacyFull)}, SeeDetails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SeesEntry(tc.takesPart, tc.relations); got != tc.want {
				t.Errorf("SeesEntry = %d, want %d", got, tc.want)
			}
		})
	}
}
