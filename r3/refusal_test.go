package r3

import (
	"errors"
	"strings"
	"testing"
)

func TestOperationError(t *testing.T) {
	cause := errors.New("aauth: token request failed: denied")
	for _, c := range []struct {
		e     *OperationError
		is    error
		words string
	}{
		{&OperationError{Vocabulary: VocabularyMCP, Operations: Tools("delete_all").Operations, StatusCode: 403, Code: ProblemOperationNotGranted}, ErrOperationNotGranted, `operation not granted ("delete_all")`},
		{&OperationError{StatusCode: 403, Code: ProblemPerCallBatch}, ErrPerCallBatch, "batch"},
		{&OperationError{StatusCode: 403, Code: ProblemParametersMismatch}, ErrParametersMismatch, "parameters"},
		{&OperationError{StatusCode: 403, Code: ProblemPerCallConsumed}, ErrPerCallConsumed, "ran already"},
		{&OperationError{StatusCode: 403, Code: ProblemInvalidGrant}, ErrInvalidGrant, "invalid grant"},
		{&OperationError{Operations: Tools("a\nb", "c", "d", "e", "f").Operations, Code: CodePerCallDenied, Err: cause}, ErrPerCallDenied, `("a\nb", "c", "d", "e", …): token request failed: denied`},
	} {
		msg := c.e.Error()
		if !errors.Is(c.e, c.is) || !strings.Contains(msg, c.words) || !strings.HasPrefix(msg, "aauth: r3: ") || strings.Count(msg, "aauth:") != 1 {
			t.Errorf("%#v: %q", c.e, msg)
		}
		if strings.ContainsAny(msg, "\n\x00") {
			t.Errorf("control characters in %q", msg)
		}
	}
	denied := &OperationError{Code: CodePerCallDenied, Err: cause}
	if !errors.Is(denied, cause) || errors.Is(denied, ErrOperationNotGranted) {
		t.Error("Is matches the wrong sentinels")
	}
	if IsRefusal(CodePerCallDenied) || !IsRefusal(ProblemInvalidGrant) || IsRefusal("forbidden") {
		t.Error("IsRefusal")
	}
	if msg := (&OperationError{StatusCode: 403, Code: "x"}).Error(); msg != "aauth: r3: refused with status 403" {
		t.Errorf("%q", msg)
	}
}
