package aauth

// Temporary stand-in for challenge.go (the AAuth-Requirement parser), with
// the same API. Deleted when challenge.go lands on main.

import (
	"errors"
	"net/http"
	"strings"
)

type Requirement string

const (
	RequirementAgentToken    Requirement = "agent-token"
	RequirementPersonToken   Requirement = "person-token"
	RequirementAuthToken     Requirement = "auth-token"
	RequirementApproval      Requirement = "approval"
	RequirementInteraction   Requirement = "interaction"
	RequirementClarification Requirement = "clarification"
	RequirementClaims        Requirement = "claims"
)

type Challenge struct {
	Requirement   Requirement
	ResourceToken string
	URL           string
	Code          string
	Extensions    map[string]string
}

func ParseRequirement(v string) (Challenge, error) {
	var c Challenge
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		val = strings.Trim(val, `"`)
		switch k {
		case "requirement":
			c.Requirement = Requirement(val)
		case "resource-token":
			c.ResourceToken = val
		case "url":
			c.URL = val
		case "code":
			c.Code = val
		}
	}
	switch c.Requirement {
	case RequirementAgentToken, RequirementPersonToken, RequirementApproval, RequirementClarification, RequirementClaims:
	case RequirementAuthToken:
		if c.ResourceToken == "" {
			return Challenge{}, errors.New("aauth: auth-token without resource-token")
		}
	case RequirementInteraction:
		if c.URL == "" || c.Code == "" {
			return Challenge{}, errors.New("aauth: interaction without url or code")
		}
	default:
		return Challenge{}, errors.New("aauth: unknown AAuth-Requirement value")
	}
	return c, nil
}

func ParseRequirementHeader(h http.Header) (Challenge, bool, error) {
	v := h.Values("AAuth-Requirement")
	if len(v) == 0 {
		return Challenge{}, false, nil
	}
	c, err := ParseRequirement(strings.Join(v, ", "))
	return c, true, err
}
