package r3

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseBudgetDraftExamples(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  Budget
	}{
		{
			// §AAuth-Budget Response Header, as printed (";" separated: one
			// member with parameters to an RFC 9651 parser).
			"header example", []string{`cost=221200; remaining=1568800; unit="USD"; decimals=6`},
			Budget{Remaining: 1568800, Cost: 221200, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetCost | BudgetUnit},
		},
		{
			"the same as Dictionary members", []string{`cost=221200, remaining=1568800, unit="USD", decimals=6`},
			Budget{Remaining: 1568800, Cost: 221200, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetCost | BudgetUnit},
		},
		{
			"exhausted, beside the 401", []string{`remaining=0; unit="USD"; decimals=6`},
			Budget{Remaining: 0, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetUnit},
		},
		{
			"insufficient-budget with required", []string{`remaining=150000; required=400000; unit="USD"; decimals=6`},
			Budget{Remaining: 150000, Required: 400000, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetRequired | BudgetUnit},
		},
		{
			"streamed header", []string{`remaining=1568800; reserved=431200; unit="USD"; decimals=6`},
			Budget{Remaining: 1568800, Reserved: 431200, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetReserved | BudgetUnit},
		},
		{
			"two field lines", []string{`remaining=5`, `cost=2`},
			Budget{Remaining: 5, Cost: 2, Members: BudgetRemaining | BudgetCost},
		},
		{
			"unknown members ignored", []string{`remaining=5, future=7, note="x"; deep=1, granted=100`},
			Budget{Remaining: 5, Members: BudgetRemaining},
		},
		{
			"mistyped members ignored", []string{`remaining=5, cost="2", reserved=1.5, required=?1, unit=3, decimals=6`},
			Budget{Remaining: 5, Members: BudgetRemaining},
		},
		{
			"unit without decimals dropped", []string{`remaining=5, unit="USD"`},
			Budget{Remaining: 5, Members: BudgetRemaining},
		},
		{
			"decimals past 18 dropped with unit", []string{`remaining=5, unit="USD", decimals=19`},
			Budget{Remaining: 5, Members: BudgetRemaining},
		},
		{
			"last occurrence wins", []string{`remaining=5, remaining=9`},
			Budget{Remaining: 9, Members: BudgetRemaining},
		},
		{
			"fifteen digits", []string{`remaining=999999999999999`},
			Budget{Remaining: 999999999999999, Members: BudgetRemaining},
		},
	}
	for _, c := range cases {
		got, err := ParseBudget(c.lines)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseBudgetRefuses(t *testing.T) {
	cases := map[string][]string{
		"empty":                {""},
		"no remaining":         {`cost=5`},
		"negative remaining":   {`remaining=-1`},
		"remaining a string":   {`remaining="5"`},
		"remaining inner list": {`remaining=(1 2)`},
		"sixteen digits":       {`remaining=9999999999999999`},
		"not structured":       {`remaining: 5`},
		"too long":             {`remaining=5, x="` + strings.Repeat("a", maxBudgetHeader) + `"`},
		"late bad value":       {`remaining=5, remaining="x"`},
	}
	for name, lines := range cases {
		_, err := ParseBudget(lines)
		var be *BudgetError
		if !errors.As(err, &be) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		if strings.Count(err.Error(), "aauth:") != 1 || strings.Contains(err.Error(), "aaaa") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBudgetTrailer(t *testing.T) {
	h, err := ParseBudget([]string{`remaining=1568800; reserved=431200; unit="USD"; decimals=6`})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseBudgetTrailer([]string{`cost=221200`})
	if err != nil {
		t.Fatal(err)
	}
	b := h.WithTrailer(tr)
	// §Streaming: 1568800 + 431200 - 221200.
	if !b.Has(BudgetCost) || b.Cost != 221200 || b.Balance() != 1778800 {
		t.Errorf("merged = %+v, balance %d", b, b.Balance())
	}
	// A trailer restating remaining is reduced to its cost.
	tr2, err := ParseBudgetTrailer([]string{`cost=1, remaining=0`})
	if err != nil || tr2.Has(BudgetRemaining) || tr2.Cost != 1 {
		t.Errorf("trailer = %+v %v", tr2, err)
	}
	// A trailer never overrides the header's cost.
	h2, _ := ParseBudget([]string{`remaining=10, cost=3`})
	if got := h2.WithTrailer(tr); got.Cost != 3 {
		t.Errorf("trailer overrode cost: %+v", got)
	}
	if _, err := ParseBudgetTrailer([]string{`remaining=5`}); err == nil {
		t.Error("trailer without cost accepted")
	}
	if h.Balance() != h.Remaining {
		t.Error("Balance without cost is not remaining")
	}
}

func TestBudgetFromResponse(t *testing.T) {
	resp := &http.Response{Header: http.Header{}, Trailer: http.Header{}}
	if _, ok, err := BudgetFromResponse(resp); ok || err != nil {
		t.Errorf("absent: %v %v", ok, err)
	}
	resp.Header.Set("AAuth-Budget", `remaining=40, reserved=10`)
	resp.Trailer.Set("AAuth-Budget", `cost=4`)
	b, ok, err := BudgetFromResponse(resp)
	if !ok || err != nil || b.Balance() != 46 {
		t.Errorf("with trailer: %+v %v %v", b, ok, err)
	}
	resp.Header.Set("Age", "30")
	if _, ok, _ := BudgetFromResponse(resp); ok {
		t.Error("a cached response's budget was read")
	}
	resp.Header.Set("Age", "0")
	resp.Header.Set("AAuth-Budget", `cost=4`)
	if _, ok, err := BudgetFromResponse(resp); ok || err == nil {
		t.Errorf("no remaining: %v %v", ok, err)
	}
}

func TestFormatBudget(t *testing.T) {
	b := Budget{Remaining: 1568800, Cost: 221200, Unit: "USD", Decimals: 6, Members: BudgetRemaining | BudgetCost | BudgetUnit}
	s, err := FormatBudget(b)
	if err != nil {
		t.Fatal(err)
	}
	if s != `remaining=1568800, cost=221200, unit="USD", decimals=6` {
		t.Errorf("FormatBudget = %s", s)
	}
	back, err := ParseBudget([]string{s})
	if err != nil || back != b {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if s, err := FormatBudget(Budget{Cost: 7, Members: BudgetCost}); err != nil || s != "cost=7" {
		t.Errorf("trailer: %q %v", s, err)
	}
	for name, bad := range map[string]Budget{
		"nothing":   {},
		"negative":  {Remaining: -1, Members: BudgetRemaining},
		"16 digits": {Remaining: 1e15, Members: BudgetRemaining},
		"no unit":   {Remaining: 1, Members: BudgetRemaining | BudgetUnit},
	} {
		if _, err := FormatBudget(bad); err == nil {
			t.Errorf("%s: formatted", name)
		}
	}
}

func TestParseBudgetClaim(t *testing.T) {
	c, err := ParseBudgetClaim([]byte(`{"sub":"x","budget":{"amount":2000000,"unit":"USD","decimals":6}}`))
	if err != nil || c == nil || *c != (BudgetClaim{Amount: 2000000, Unit: "USD", Decimals: 6}) {
		t.Fatalf("claim = %+v %v", c, err)
	}
	if c, err := ParseBudgetClaim([]byte(`{"sub":"x"}`)); c != nil || err != nil {
		t.Errorf("absent: %+v %v", c, err)
	}
	for name, src := range map[string]string{
		"amount float":     `{"budget":{"amount":1.5,"unit":"USD","decimals":6}}`,
		"amount negative":  `{"budget":{"amount":-1,"unit":"USD","decimals":6}}`,
		"amount 16 digits": `{"budget":{"amount":1000000000000000,"unit":"USD","decimals":6}}`,
		"amount string":    `{"budget":{"amount":"5","unit":"USD","decimals":6}}`,
		"no unit":          `{"budget":{"amount":5,"decimals":6}}`,
		"no decimals":      `{"budget":{"amount":5,"unit":"USD"}}`,
		"decimals 19":      `{"budget":{"amount":5,"unit":"USD","decimals":19}}`,
		"not an object":    `{"budget":[5]}`,
	} {
		if c, err := ParseBudgetClaim([]byte(src)); err == nil {
			t.Errorf("%s: %+v", name, c)
		}
	}
	h, _ := ParseBudget([]string{`remaining=5, unit="USD", decimals=6`})
	if !h.ConsistentWith(*c) {
		t.Error("consistent header refused")
	}
	h2, _ := ParseBudget([]string{`remaining=5, unit="USD", decimals=2`})
	if h2.ConsistentWith(*c) {
		t.Error("a header in another scale is consistent")
	}
	h3, _ := ParseBudget([]string{`remaining=5`})
	if !h3.ConsistentWith(*c) {
		t.Error("a header without unit is inconsistent")
	}
}
