package objload

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseSetting(t *testing.T) {
	for _, tc := range []struct {
		word string
		want Setting
		err  string
	}{
		{word: "retargeted.target=vfs_read", want: Setting{Name: "retargeted", Key: KeyTarget, Value: "vfs_read"}},
		{word: "tool.o:handle.target=tcp_v4_connect", want: Setting{Object: "tool.o", Name: "handle", Key: KeyTarget, Value: "tcp_v4_connect"}},
		{word: "p.target=nf_conntrack:nf_confirm", want: Setting{Name: "p", Key: KeyTarget, Value: "nf_conntrack:nf_confirm"}},
		{word: "p.target=sched/sched_switch", want: Setting{Name: "p", Key: KeyTarget, Value: "sched/sched_switch"}},
		{word: "p.target=copy_page_range.isra.0", want: Setting{Name: "p", Key: KeyTarget, Value: "copy_page_range.isra.0"}},
		{word: "events.max_entries=4096", want: Setting{Name: "events", Key: KeyMaxEntries, Value: "4096", MaxEntries: 4096}},
		{word: "a:b.o:events.max_entries=1", want: Setting{Object: "a:b.o", Name: "events", Key: KeyMaxEntries, Value: "1", MaxEntries: 1}},
		{word: "events.max_entries=4294967295", want: Setting{Name: "events", Key: KeyMaxEntries, Value: "4294967295", MaxEntries: 1<<32 - 1}},
		{word: "events.max_entries", err: "no '='"},
		{word: "events=4", err: "no '.'"},
		{word: "events.size=4", err: `unknown key "size"`},
		{word: "events.max_entries=0", err: "not a number from 1"},
		{word: "events.max_entries=-1", err: "not a number from 1"},
		{word: "events.max_entries=4294967296", err: "not a number from 1"},
		{word: "events.max_entries=0x10", err: "not a number from 1"},
		{word: ".target=f", err: "is not a program or map name"},
		{word: "1prog.target=f", err: "is not a program or map name"},
		{word: "a.b.target=f", err: "is not a program or map name"},
		{word: "p.target=", err: "is not a function or event name"},
		{word: "p.target=a b", err: "is not a function or event name"},
		{word: "p.target=a::b", err: "is not a function or event name"},
		{word: "p.target=/a", err: "is not a function or event name"},
		{word: ":p.target=f", err: "must be a file name"},
		{word: "dir/x.o:p.target=f", err: "must be a file name"},
	} {
		got, err := ParseSetting(tc.word)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSetting(%q) = %+v, %v; want an error with %q", tc.word, got, err, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.word):
			t.Errorf("ParseSetting(%q): error %q does not quote the word", tc.word, err)
		case tc.err == "" && err != nil:
			t.Errorf("ParseSetting(%q): %v", tc.word, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParseSetting(%q) = %+v, want %+v", tc.word, got, tc.want)
		case tc.err == "" && got.String() != tc.word:
			t.Errorf("ParseSetting(%q).String() = %q", tc.word, got.String())
		}
	}
}

// FuzzParseSetting checks that every word is read or refused without a panic, that a word read
// prints back as itself, and that what it says is well formed.
func FuzzParseSetting(f *testing.F) {
	for _, s := range []string{"retargeted.target=vfs_read", "tool.o:events.max_entries=4096", "p.target=mod:f", "a.b=c", "", "=", ":.=", "x.max_entries=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		s, err := ParseSetting(word)
		if err != nil {
			if s != (Setting{}) {
				t.Errorf("error %v with a setting %+v", err, s)
			}
			if utf8.ValidString(word) && !strings.Contains(err.Error(), "--set") {
				t.Errorf("error %q does not say it is about --set", err)
			}
			return
		}
		if s.String() != word {
			t.Errorf("ParseSetting(%q).String() = %q", word, s.String())
		}
		if !identifier(s.Name) || (s.Key == KeyMaxEntries) != (s.MaxEntries > 0) || s.Key != KeyTarget && s.Key != KeyMaxEntries {
			t.Errorf("ParseSetting(%q) = %+v: malformed", word, s)
		}
		again, err := ParseSetting(s.String())
		if err != nil || again != s {
			t.Errorf("reparsed %q: %+v, %v", s.String(), again, err)
		}
	})
}
