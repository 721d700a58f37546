package psclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/wire"
)

func TestParsePermission(t *testing.T) {
	if err := parsePermission([]byte(`{"permission":"granted"}`), "SendEmail"); err != nil {
		t.Fatalf("granted: %v", err)
	}
	if err := parsePermission([]byte(`{"permission":"granted","reason":"fine","x":[1]}`), "SendEmail"); err != nil {
		t.Fatalf("granted with extra members: %v", err)
	}

	err := parsePermission([]byte(`{"permission":"denied","reason":"Not **now**.\n\u001b[31mred"}`), "SendEmail")
	var pd *PermissionDeniedError
	if !errors.As(err, &pd) || !errors.Is(err, ErrDenied) {
		t.Fatalf("denied: %v", err)
	}
	if pd.Action != "SendEmail" || pd.Reason != "Not **now**.\n\u001b[31mred" {
		t.Errorf("denied: %+v", pd)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\n\x1b") || !strings.Contains(msg, `permission for "SendEmail" denied: Not **now**.`) {
		t.Errorf("message %q", msg)
	}
	if err := parsePermission([]byte(`{"permission":"denied","reason":12}`), "X"); !errors.As(err, &pd) || pd.Reason != "" {
		t.Errorf("denied with a numeric reason: %v", err)
	}

	// Anything but an explicit grant or denial is malformed, and the
	// action must not be taken.
	for name, body := range map[string]string{
		"empty object":          `{}`,
		"not JSON":              `granted`,
		"an array":              `["granted"]`,
		"permission true":       `{"permission":true}`,
		"permission null":       `{"permission":null}`,
		"upper case":            `{"permission":"Granted"}`,
		"maybe":                 `{"permission":"maybe"}`,
		"granted with a space":  `{"permission":"granted "}`,
		"duplicate permission":  `{"permission":"denied","permission":"granted"}`,
		"two objects":           `{"permission":"granted"}{}`,
		"status instead":        `{"status":"granted"}`,
		"control characters":    "{\"permission\":\"no\u0007\u001b[2J\"}",
		"granted in a sub-tree": `{"answer":{"permission":"granted"}}`,
	} {
		err := parsePermission([]byte(body), "X")
		if !errors.Is(err, ErrMalformedAnswer) || errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x07\x1b") {
			t.Errorf("%s: the message carries control characters: %q", name, err)
		}
	}
}

func TestParsePermissionHuge(t *testing.T) {
	body := `{"permission":"granted","pad":"` + strings.Repeat("a", httpx.MaxBodySize) + `"}`
	if err := parsePermission([]byte(body), "X"); !errors.Is(err, httpx.ErrBodyTooLarge) {
		t.Errorf("a huge answer: %v", err)
	}
}

func TestParseRelayAnswers(t *testing.T) {
	a, err := parseQuestionAnswer([]byte(`{"answer":"Yes, go ahead with the refundable option."}`))
	if err != nil || a != "Yes, go ahead with the refundable option." {
		t.Fatalf("answer %q, %v", a, err)
	}
	for _, body := range []string{`{}`, `{"answer":1}`, `[]`, `x`, `{"answer":"a","answer":"b"}`} {
		if _, err := parseQuestionAnswer([]byte(body)); !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("answer %s: %v", body, err)
		}
	}

	d := MissionDigest([]byte("update"))
	s, err := parseUpdateAnswer([]byte(`{"s256":"` + d + `"}`))
	if err != nil || s != d {
		t.Fatalf("update answer %q, %v", s, err)
	}
	for _, body := range []string{`{}`, `{"s256":"abc"}`, `{"s256":"` + d + `="}`, `{"s256":42}`, `null`} {
		if _, err := parseUpdateAnswer([]byte(body)); !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("update answer %s: %v", body, err)
		}
	}
}

// missionErrorFrom parses body as problem details and reads its mission
// error, as the calls do with the bodies they get.
func missionErrorFrom(body []byte, s256 string) *MissionError {
	p, err := wire.ParseProblem(body)
	if err != nil {
		return nil
	}
	return missionErrorOf(p, s256)
}

func TestMissionErrorFrom(t *testing.T) {
	s256 := MissionDigest([]byte(testBlob))
	e := missionErrorFrom([]byte(`{"error":"mission_terminated","mission_status":"terminated","termination_reason":"expired","detail":"It ended."}`), s256)
	if e == nil || e.NotFound || e.Reason != TerminationExpired || e.Detail != "It ended." || e.MissionS256 != s256 {
		t.Fatalf("terminated: %+v", e)
	}
	if !errors.Is(e, ErrMissionTerminated) || errors.Is(e, ErrMissionNotFound) {
		t.Error("terminated matches the wrong sentinel")
	}
	if got := e.Error(); got != "aauth: mission "+s256[:43]+" terminated (expired): It ended." {
		t.Errorf("message %q", got)
	}

	e = missionErrorFrom([]byte(`{"error":"mission_not_found","error_description":"no such mission"}`), "")
	if e == nil || !e.NotFound || !errors.Is(e, ErrMissionNotFound) || e.Error() != "aauth: mission not found: no such mission" {
		t.Fatalf("not found: %+v", e)
	}

	// An unknown reason is kept, cleaned, as an opaque value.
	e = missionErrorFrom([]byte("{\"error\":\"mission_terminated\",\"termination_reason\":\"cosmic\\u001b[2Jray\"}"), "")
	if e == nil || e.Reason != "cosmic [2Jray" {
		t.Fatalf("unknown reason: %+v", e)
	}
	for _, body := range []string{``, `{}`, `{"error":"denied"}`, `not json`, `{"error":["mission_terminated"]}`} {
		if e := missionErrorFrom([]byte(body), ""); e != nil {
			t.Errorf("%q gave %+v", body, e)
		}
	}
}
