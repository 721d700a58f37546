package tokenstore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testKey = "auth https://r.example https://ps.example jkt"

func TestRoundTrip(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	for _, e := range []Entry{
		{Key: testKey, Value: "eyJ.a.b", ExpiresIn: 3600, Expiry: exp, Until: exp},
		{Key: "session https://r.example", Value: "opaque session", Until: exp},
	} {
		data, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(data, e.Key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != e.Key || got.Value != e.Value || got.ExpiresIn != e.ExpiresIn || !got.Expiry.Equal(e.Expiry) || !got.Until.Equal(e.Until) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
		if !e.Expiry.IsZero() && got.Expiry.Location() != time.UTC {
			t.Fatalf("expiry not in UTC: %v", got.Expiry)
		}
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	until := `"until":"2030-01-01T00:00:00Z"`
	cases := []struct {
		name string
		data string
		want error
	}{
		{"empty", ``, ErrCorrupt},
		{"truncated", `{"format":"aauth-token/1","key":"` + testKey + `","val`, ErrCorrupt},
		{"not an object", `[1,2]`, ErrCorrupt},
		{"binary", "\x00\x01\x02", ErrCorrupt},
		{"no marker", `{"key":"` + testKey + `","value":"v",` + until + `}`, ErrForeign},
		{"other program", `{"format":"something/1","key":"` + testKey + `","value":"v",` + until + `}`, ErrForeign},
		{"newer version", `{"format":"aauth-token/2","key":"` + testKey + `","value":"v",` + until + `}`, ErrForeign},
		{"another key", `{"format":"aauth-token/1","key":"auth https://other","value":"v",` + until + `}`, ErrForeign},
		{"no value", `{"format":"aauth-token/1","key":"` + testKey + `",` + until + `}`, ErrCorrupt},
		{"newline in value", `{"format":"aauth-token/1","key":"` + testKey + `","value":"a\nb",` + until + `}`, ErrCorrupt},
		{"non-ASCII value", `{"format":"aauth-token/1","key":"` + testKey + `","value":"é",` + until + `}`, ErrCorrupt},
		{"negative expires_in", `{"format":"aauth-token/1","key":"` + testKey + `","value":"v","expires_in":-1,` + until + `}`, ErrCorrupt},
		{"no until", `{"format":"aauth-token/1","key":"` + testKey + `","value":"v"}`, ErrCorrupt},
		{"bad time", `{"format":"aauth-token/1","key":"` + testKey + `","value":"v","until":"tomorrow"}`, ErrCorrupt},
		{"huge", `{"format":"aauth-token/1","key":"` + testKey + `","value":"` + strings.Repeat("a", MaxEnvelope) + `",` + until + `}`, ErrCorrupt},
		{"value too long", `{"format":"aauth-token/1","key":"` + testKey + `","value":"` + strings.Repeat("a", MaxValueLen+1) + `",` + until + `}`, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(c.data), testKey)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "aaaa") || strings.Contains(err.Error(), `"v"`) {
				t.Fatalf("error quotes the data: %v", err)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	until := time.Now().Add(time.Hour)
	for name, e := range map[string]Entry{
		"no key":        {Value: "v", Until: until},
		"invalid UTF-8": {Key: "auth \xff", Value: "v", Until: until},
		"no value":      {Key: testKey, Until: until},
		"CR in value":   {Key: testKey, Value: "a\rb", Until: until},
		"no until":      {Key: testKey, Value: "v"},
		"long value":    {Key: testKey, Value: strings.Repeat("a", MaxValueLen+1), Until: until},
		"long key":      {Key: strings.Repeat("k", MaxKeyLen+1), Value: "v", Until: until},
		"negative life": {Key: testKey, Value: "v", ExpiresIn: -5, Until: until},
	} {
		if _, err := Marshal(e); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestName(t *testing.T) {
	n := Name(testKey)
	if !IsName(n) || Name(testKey) != n || Name(testKey+" ") == n {
		t.Fatalf("Name %q", n)
	}
	for _, s := range []string{"", "../etc/passwd", strings.ToUpper(n), n + "0", n[:63] + "g"} {
		if IsName(s) {
			t.Errorf("IsName(%q) = true", s)
		}
	}
}

// FuzzUnmarshal feeds Unmarshal what a corrupt file or a foreign Redis
// value could hold: it must not panic, must refuse with one of its two
// errors, and what it accepts must survive Marshal unchanged.
func FuzzUnmarshal(f *testing.F) {
	good, _ := Marshal(Entry{Key: testKey, Value: "eyJ.a.b", ExpiresIn: 60, Expiry: time.Unix(2e9, 0), Until: time.Unix(2e9, 0)})
	f.Add(good, testKey)
	f.Add([]byte(`{"format":"aauth-token/2"}`), testKey)
	f.Add([]byte(`{"format":"aauth-token/1","key":"k","value":"v","until":"2030-01-01T00:00:00Z"}`), "k")
	f.Add([]byte("\xff\xfe"), "")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		e, err := Unmarshal(data, key)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if e.Key != key {
			t.Fatalf("accepted the entry of %q for %q", e.Key, key)
		}
		again, err := Marshal(e)
		if err != nil {
			t.Fatalf("accepted an entry Marshal refuses: %v", err)
		}
		e2, err := Unmarshal(again, key)
		if err != nil || e2.Value != e.Value || !e2.Until.Equal(e.Until) || !e2.Expiry.Equal(e.Expiry) || e2.ExpiresIn != e.ExpiresIn {
			t.Fatalf("round trip changed the entry: %+v → %+v (%v)", e, e2, err)
		}
	})
}
