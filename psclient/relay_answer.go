package psclient

import (
	"encoding/json"
	"fmt"

	"github.com/aauthgo/aauth/internal/httpx"
)

// parseQuestionAnswer reads the answer to a question relay:
// {"answer":"…"}. The answer is the person's text, as sent.
func parseQuestionAnswer(body []byte) (string, error) {
	if len(body) > httpx.MaxBodySize {
		return "", httpx.ErrBodyTooLarge
	}
	m, _, err := missionObject(body)
	if err != nil {
		return "", fmt.Errorf("%w: the question relay's answer is not a JSON object: %v", ErrMalformedAnswer, err)
	}
	var a string
	if json.Unmarshal(m["answer"], &a) != nil {
		return "", fmt.Errorf("%w: the question relay's answer has no answer string", ErrMalformedAnswer)
	}
	return a, nil
}

// parseUpdateAnswer reads the answer to a mission update: {"s256":"…"},
// the digest of the update as the person server recorded it.
func parseUpdateAnswer(body []byte) (string, error) {
	if len(body) > httpx.MaxBodySize {
		return "", httpx.ErrBodyTooLarge
	}
	m, _, err := missionObject(body)
	if err != nil {
		return "", fmt.Errorf("%w: the mission update answer is not a JSON object: %v", ErrMalformedAnswer, err)
	}
	var s string
	if json.Unmarshal(m["s256"], &s) != nil || !ValidDigest(s) {
		return "", fmt.Errorf("%w: the mission update answer has no valid s256", ErrMalformedAnswer)
	}
	return s, nil
}
