package r3

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/dunglas/httpsfv"
)

// The AAuth-Budget header (Budgets draft §AAuth-Budget Response Header).
const BudgetHeader = "AAuth-Budget"

// The reason parameter values a resource puts on requirement=auth-token
// (Budgets draft §The reason Parameter). They arrive in
// Challenge.Extensions["reason"]; an agent that does not know them
// re-authorizes, which is always correct.
const (
	ReasonBudgetExhausted    = "budget-exhausted"
	ReasonInsufficientBudget = "insufficient-budget"
)

// maxBudgetHeader bounds the AAuth-Budget field value (all lines), in
// bytes. The field carries six short members.
const maxBudgetHeader = 1024

// maxDecimals bounds decimals: a scale past 18 places cannot describe an
// int64 amount.
const maxDecimals = 18

// BudgetMember names a member of AAuth-Budget, as a bit in Budget.Members.
type BudgetMember uint8

// The members. Unit stands for the unit and decimals pair, which a sender
// includes together or not at all.
const (
	BudgetRemaining BudgetMember = 1 << iota
	BudgetCost
	BudgetReserved
	BudgetRequired
	BudgetUnit
)

// Budget is an AAuth-Budget field value: what is left of the budget on the
// auth token the request was signed with, and what this request cost or
// holds. Amounts are integers in the granted scale (amount / 10^decimals
// of the unit). The auth token's budget claim is authoritative: Unit and
// Decimals here are informational, and a value that disagrees with the
// claim makes the whole field unreliable (Budgets draft §Denomination
// Conflict).
type Budget struct {
	Remaining int64 // REQUIRED in the header: what is left, net of reservations
	Cost      int64 // what this request cost
	Reserved  int64 // what is held for this request and not yet committed
	Required  int64 // what a request refused as insufficient-budget needed
	Unit      string
	Decimals  int64
	Members   BudgetMember // which members were present
}

// Has reports whether the field carried member m.
func (b Budget) Has(m BudgetMember) bool { return b.Members&m != 0 }

// Balance returns what is left once this request settles: remaining plus
// reserved minus cost when both are known (Budgets draft §Streaming), and
// otherwise remaining, which is a floor.
func (b Budget) Balance() int64 {
	if b.Has(BudgetReserved) && b.Has(BudgetCost) {
		return b.Remaining + b.Reserved - b.Cost
	}
	return b.Remaining
}

// BudgetError reports an AAuth-Budget field that cannot be used. Its
// message never contains the value.
type BudgetError struct {
	Reason string
	Err    error // the RFC 9651 syntax error, if any
}

// Error returns "aauth: invalid AAuth-Budget header: <reason>".
func (e *BudgetError) Error() string {
	s := "aauth: invalid AAuth-Budget header: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the syntax error, if any.
func (e *BudgetError) Unwrap() error { return e.Err }

// ParseBudget reads the AAuth-Budget header field from its field lines.
//
// The draft defines the field as an RFC 9651 Dictionary whose members are
// remaining, cost, reserved, required, unit and decimals, but writes its
// examples with ";" (remaining=1568800; unit="USD"), which a Dictionary
// parser reads as one member carrying the others as parameters. Both
// forms are read: every member and every parameter of a member counts, in
// order, the last occurrence winning as RFC 9651 says for repeated keys.
// Members the draft does not define are ignored; so is a defined member
// of the wrong type or a negative amount (as if absent), and the unit and
// decimals pair when only one of them is usable. remaining is REQUIRED:
// without it ParseBudget fails. Use ParseBudgetTrailer for the trailer.
func ParseBudget(lines []string) (Budget, error) {
	b, err := parseBudget(lines)
	if err != nil {
		return Budget{}, err
	}
	if !b.Has(BudgetRemaining) {
		return Budget{}, &BudgetError{Reason: "no remaining member"}
	}
	return b, nil
}

// ParseBudgetTrailer reads AAuth-Budget sent as a trailer, which carries
// cost and nothing else (Budgets draft §Trailer Rules): only cost is kept.
func ParseBudgetTrailer(lines []string) (Budget, error) {
	b, err := parseBudget(lines)
	if err != nil {
		return Budget{}, err
	}
	if !b.Has(BudgetCost) {
		return Budget{}, &BudgetError{Reason: "trailer without cost"}
	}
	return Budget{Cost: b.Cost, Members: BudgetCost}, nil
}

// WithTrailer adds a trailer's cost to a header value that has none. A
// trailer never overrides what the header said (a trailer must not
// restate a member, and which one would win is not for a sender to
// control).
func (b Budget) WithTrailer(t Budget) Budget {
	if t.Has(BudgetCost) && !b.Has(BudgetCost) {
		b.Cost = t.Cost
		b.Members |= BudgetCost
	}
	return b
}

// BudgetFromResponse reads AAuth-Budget from a response: the header, plus
// the trailer's cost once the body has been read to the end. It reports
// false when the response carries no such header, and when the response
// came from a cache with a positive Age, whose figures recipients must
// ignore (Budgets draft §Sending Rules).
func BudgetFromResponse(resp *http.Response) (Budget, bool, error) {
	lines := resp.Header.Values(BudgetHeader)
	if len(lines) == 0 {
		return Budget{}, false, nil
	}
	if age := strings.TrimSpace(resp.Header.Get("Age")); age != "" && age != "0" {
		return Budget{}, false, nil
	}
	b, err := ParseBudget(lines)
	if err != nil {
		return Budget{}, false, err
	}
	if tl := resp.Trailer.Values(BudgetHeader); len(tl) > 0 {
		if t, err := ParseBudgetTrailer(tl); err == nil {
			b = b.WithTrailer(t)
		}
	}
	return b, true, nil
}

func parseBudget(lines []string) (Budget, error) {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	if n > maxBudgetHeader {
		return Budget{}, &BudgetError{Reason: "longer than " + strconv.Itoa(maxBudgetHeader) + " bytes"}
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return Budget{}, &BudgetError{Reason: "not a structured field dictionary", Err: err}
	}
	var b Budget
	var unit string
	var decimals int64
	haveUnit, haveDecimals := false, false
	amount := func(name string) (*int64, BudgetMember) {
		switch name {
		case "remaining":
			return &b.Remaining, BudgetRemaining
		case "cost":
			return &b.Cost, BudgetCost
		case "reserved":
			return &b.Reserved, BudgetReserved
		case "required":
			return &b.Required, BudgetRequired
		}
		return nil, 0
	}
	apply := func(name string, v any) {
		if dst, m := amount(name); dst != nil {
			i, ok := v.(int64)
			if !ok || i < 0 {
				b.Members &^= m // a later bad value cancels an earlier good one
				return
			}
			*dst = i
			b.Members |= m
			return
		}
		switch name {
		case "unit":
			s, ok := v.(string)
			haveUnit = ok && s != ""
			unit = s
		case "decimals":
			i, ok := v.(int64)
			haveDecimals = ok && i >= 0 && i <= maxDecimals
			decimals = i
		}
	}
	for _, name := range d.Names() {
		m, _ := d.Get(name)
		item, ok := m.(httpsfv.Item)
		if !ok {
			apply(name, nil) // an inner list is the wrong type
			continue
		}
		apply(name, item.Value)
		if item.Params != nil {
			for _, p := range item.Params.Names() {
				v, _ := item.Params.Get(p)
				apply(p, v)
			}
		}
	}
	if haveUnit && haveDecimals {
		b.Unit, b.Decimals = unit, decimals
		b.Members |= BudgetUnit
	}
	return b, nil
}

// FormatBudget writes b as an AAuth-Budget field value: the members b
// has, as Dictionary members (the draft's normative form; see
// ParseBudget), in the order remaining, cost, reserved, required, unit,
// decimals. Amounts must be non-negative and at most 15 digits (RFC 9651
// Integers); a header value needs remaining.
func FormatBudget(b Budget) (string, error) {
	if !b.Has(BudgetRemaining) && !b.Has(BudgetCost) {
		return "", &BudgetError{Reason: "neither remaining nor cost"}
	}
	d := httpsfv.NewDictionary()
	for _, f := range []struct {
		m    BudgetMember
		name string
		v    int64
	}{{BudgetRemaining, "remaining", b.Remaining}, {BudgetCost, "cost", b.Cost}, {BudgetReserved, "reserved", b.Reserved}, {BudgetRequired, "required", b.Required}} {
		if !b.Has(f.m) {
			continue
		}
		if f.v < 0 || f.v > 999_999_999_999_999 {
			return "", &BudgetError{Reason: f.name + " out of range"}
		}
		d.Add(f.name, httpsfv.NewItem(f.v))
	}
	if b.Has(BudgetUnit) {
		if b.Unit == "" || b.Decimals < 0 || b.Decimals > maxDecimals {
			return "", &BudgetError{Reason: "unit or decimals out of range"}
		}
		d.Add("unit", httpsfv.NewItem(b.Unit))
		d.Add("decimals", httpsfv.NewItem(b.Decimals))
	}
	s, err := httpsfv.Marshal(d)
	if err != nil {
		return "", &BudgetError{Reason: "cannot serialise", Err: err}
	}
	return s, nil
}

// BudgetClaim is the budget object of the Budgets draft (§The Budget
// Object): in an auth token's budget claim it is the granted budget, and
// authoritative; in a resource token it is what the resource would grant.
// The value is Amount / 10^Decimals of Unit.
type BudgetClaim struct {
	Amount   int64
	Unit     string
	Decimals int64
}

// maxBudgetAmount is the largest amount the draft allows (§Range Limits:
// 15 digits, so every figure fits an RFC 9651 Integer).
const maxBudgetAmount = 999_999_999_999_999

// ParseBudgetClaim reads the budget claim from a JWT payload (the claims
// object, verified by the caller). It returns nil and no error when the
// payload has no budget claim. All three members are REQUIRED; amount and
// decimals must be non-negative integers (amount at most 15 digits,
// decimals at most 18) and unit a non-empty string.
func ParseBudgetClaim(payload []byte) (*BudgetClaim, error) {
	claims, err := decodeObject(payload, "")
	if err != nil {
		return nil, err
	}
	raw, ok := claims["budget"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errAt(CodeInvalid, "budget", "not an object")
	}
	var c BudgetClaim
	for _, f := range []struct {
		name string
		dst  *int64
		max  int64
	}{{"amount", &c.Amount, maxBudgetAmount}, {"decimals", &c.Decimals, maxDecimals}} {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(m[f.name]))
		d.UseNumber()
		if v := bytes.TrimSpace(m[f.name]); len(v) == 0 || v[0] == '"' || d.Decode(&n) != nil {
			return nil, errAt(CodeInvalid, join("budget", f.name), "missing or not a number")
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || i < 0 || i > f.max {
			return nil, errAt(CodeInvalid, join("budget", f.name), "not a non-negative integer in range")
		}
		*f.dst = i
	}
	if json.Unmarshal(m["unit"], &c.Unit) != nil || c.Unit == "" {
		return nil, errAt(CodeInvalid, "budget.unit", "missing or not a string")
	}
	return &c, nil
}

// ConsistentWith reports whether the header's informational unit and
// decimals, when present, agree with the granted budget claim. When they
// do not, the whole field is unreliable for that response (Budgets draft
// §Denomination Conflict).
func (b Budget) ConsistentWith(c BudgetClaim) bool {
	return !b.Has(BudgetUnit) || (b.Unit == c.Unit && b.Decimals == c.Decimals)
}
