package resource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

// usd is the unit the budget tests meter in: micro-dollars.
var usd = BudgetUnit{Unit: "USD", Decimals: 6, Max: 5_000_000}

// budgetOf is a budget claim of amount micro-dollars.
func budgetOf(amount int64) map[string]any {
	return map[string]any{"amount": amount, "unit": "USD", "decimals": 6}
}

// meteredResource configures budgets: a request holds its max query
// parameter (default 300) before it is served; ledger, when set, is the
// ledger.
func meteredResource(ledger BudgetLedger) func(rs *Resource) {
	return func(rs *Resource) {
		if l, ok := ledger.(*MemoryBudgetLedger); ok {
			l.now = rs.Now // the world's clock
		}
		rs.Mode, rs.Scope = AuthToken, "data.read"
		rs.Budgets = &Budgets{
			Units:  []BudgetUnit{usd},
			Offer:  &r3.BudgetClaim{Amount: 2_000_000, Unit: "USD", Decimals: 6},
			Ledger: ledger,
			Cost: func(r *http.Request, grant r3.BudgetClaim) (int64, error) {
				if grant.Unit != "USD" {
					return 0, errors.New("priced in USD only")
				}
				if m := r.URL.Query().Get("max"); m != "" {
					return strconv.ParseInt(m, 10, 64)
				}
				return 300, nil
			},
		}
	}
}

// budgetHeader reads AAuth-Budget from resp, failing when it is absent.
func budgetHeader(t *testing.T, resp *http.Response) r3.Budget {
	t.Helper()
	b, ok, err := r3.BudgetFromResponse(resp)
	if err != nil || !ok {
		t.Fatalf("AAuth-Budget %q: ok %v, %v", resp.Header.Values(r3.BudgetHeader), ok, err)
	}
	return b
}

// wantBudget checks a response's figures; cost < 0 wants no cost member.
func wantBudget(t *testing.T, resp *http.Response, remaining, cost int64) {
	t.Helper()
	b := budgetHeader(t, resp)
	if b.Remaining != remaining || b.Unit != "USD" || b.Decimals != 6 || !b.Has(r3.BudgetUnit) {
		t.Errorf("AAuth-Budget %q: want remaining %d in USD/6", resp.Header.Get(r3.BudgetHeader), remaining)
	}
	if cost >= 0 && (!b.Has(r3.BudgetCost) || b.Cost != cost) {
		t.Errorf("AAuth-Budget %q: want cost %d", resp.Header.Get(r3.BudgetHeader), cost)
	}
}

// wantBudgetRefusal checks a 401 refusing a request its budget cannot
// cover: requirement=auth-token with a resource token offering a budget,
// the reason, and AAuth-Budget with remaining (and required).
func wantBudgetRefusal(t *testing.T, resp *http.Response, reason string, remaining, required int64) {
	t.Helper()
	wantStatus(t, resp, http.StatusUnauthorized, "")
	ch, ok, err := wire.ParseRequirementHeader(resp.Header)
	if err != nil || !ok || ch.Requirement != "auth-token" || ch.ResourceToken == "" || ch.Extensions["reason"] != reason {
		t.Fatalf("AAuth-Requirement %q (%v), want auth-token with reason=%s", resp.Header.Get("AAuth-Requirement"), err, reason)
	}
	if rt := jwtClaims(t, ch.ResourceToken); rt["scope"] != "data.read" || !sameJSON(rt["budget"], budgetOf(2_000_000)) {
		t.Errorf("resource token scope %v budget %v", rt["scope"], rt["budget"])
	}
	b := budgetHeader(t, resp)
	if b.Remaining != remaining || b.Has(r3.BudgetCost) || b.Unit != "USD" {
		t.Errorf("AAuth-Budget %q, want remaining=%d and no cost", resp.Header.Get(r3.BudgetHeader), remaining)
	}
	if (required > 0) != b.Has(r3.BudgetRequired) || b.Required != required {
		t.Errorf("AAuth-Budget %q, want required=%d", resp.Header.Get(r3.BudgetHeader), required)
	}
}

// jwtClaims decodes a JWT's payload (no verification: the resource's own).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestBudgetMetering spends one auth token's budget call by call: every
// response says what it cost and what remains, a request that does not fit
// is refused insufficient-budget without drawing down, and a spent budget
// is refused budget-exhausted, with a fresh resource token offering one.
func TestBudgetMetering(t *testing.T) {
	ledger := NewMemoryBudgetLedger(0)
	var posted []int64 // what Committed was told, for the person's ledger
	var mu sync.Mutex
	w := newWorld(t, func(rs *Resource) {
		meteredResource(ledger)(rs)
		rs.Budgets.Committed = func(_ context.Context, c *Caller, grant r3.BudgetClaim, cost int64) {
			if c.Subject != "person-1" || grant.Amount != 1000 {
				t.Errorf("Committed for %s, grant %+v", c.Subject, grant)
			}
			mu.Lock()
			posted = append(posted, cost)
			mu.Unlock()
		}
	})
	tok := w.authToken("data.read", map[string]any{"budget": budgetOf(1000)})

	steps := []struct {
		path            string
		remaining, cost int64
	}{
		{"/data?charge=100", 900, 100}, // holds 300, commits 100
		{"/data", 600, 300},            // no Charge: costs what it held
		{"/data?charge=250", 350, 250},
		{"/data?max=0&charge=150", 200, 150}, // held nothing: Charge holds as it goes
	}
	for _, s := range steps {
		resp := w.do("GET", s.path, "", tok)
		wantStatus(t, resp, http.StatusOK, "")
		wantBudget(t, resp, s.remaining, s.cost)
	}
	runs := len(w.callers)

	// 300 needed, 200 left: refused, nothing drawn down, handler not run.
	wantBudgetRefusal(t, w.do("GET", "/data", "", tok), r3.ReasonInsufficientBudget, 200, 300)
	if len(w.callers) != runs {
		t.Fatal("the handler ran for a refused request")
	}
	// A charge past what is left is refused and charges nothing: the
	// request costs what it held (nothing).
	resp := w.do("GET", "/data?max=0&charge=201", "", tok)
	wantStatus(t, resp, http.StatusOK, "")
	wantBudget(t, resp, 200, 0)
	if !strings.Contains(bodyOf(resp), ErrBudgetExceeded.Error()) {
		t.Errorf("Charge past the budget did not fail: %s", bodyOf(resp))
	}
	resp = w.do("GET", "/data?max=200", "", tok)
	wantStatus(t, resp, http.StatusOK, "")
	wantBudget(t, resp, 0, 200)

	// Spent: every request is refused budget-exhausted, even a free one.
	wantBudgetRefusal(t, w.do("GET", "/data", "", tok), r3.ReasonBudgetExhausted, 0, 0)
	wantBudgetRefusal(t, w.do("GET", "/data?max=0", "", tok), r3.ReasonBudgetExhausted, 0, 0)

	mu.Lock()
	if got := fmt.Sprint(posted); got != "[100 300 250 150 200]" {
		t.Errorf("Committed was told %s, want the five costs (no refusal, no zero)", got)
	}
	mu.Unlock()

	// A fresh token has a fresh budget.
	resp = w.do("GET", "/data?charge=1", "", w.authToken("data.read", map[string]any{"budget": budgetOf(1000)}))
	wantStatus(t, resp, http.StatusOK, "")
	wantBudget(t, resp, 999, 1)
	if ledger.Len() != 2 {
		t.Errorf("ledger holds %d budgets, want 2", ledger.Len())
	}
}

// TestBudgetUnmetered: a token without a budget claim is served as
// before: no AAuth-Budget, nothing in the ledger, Charge a no-op.
func TestBudgetUnmetered(t *testing.T) {
	ledger := NewMemoryBudgetLedger(0)
	w := newWorld(t, meteredResource(ledger))
	for _, extra := range []map[string]any{nil, {"budget": nil}} {
		resp := w.do("GET", "/data?charge=5000000", "", w.authToken("data.read", extra))
		wantStatus(t, resp, http.StatusOK, "")
		if v := resp.Header.Values(r3.BudgetHeader); v != nil || strings.Contains(bodyOf(resp), "charge") {
			t.Errorf("unmetered answer: AAuth-Budget %q, body %s", v, bodyOf(resp))
		}
		if c := w.lastCaller(); c.Budget != nil {
			t.Errorf("Caller.Budget %+v for a token without one", c.Budget)
		}
	}
	if ledger.Len() != 0 {
		t.Errorf("ledger holds %d budgets", ledger.Len())
	}
	// Without Resource.Budgets a budget claim is not read at all.
	w = newWorld(t, func(rs *Resource) { rs.Mode, rs.Scope = AuthToken, "data.read" })
	resp := w.do("GET", "/data", "", w.authToken("data.read", map[string]any{"budget": "not an object"}))
	wantStatus(t, resp, http.StatusOK, "")
	if resp.Header.Get(r3.BudgetHeader) != "" {
		t.Error("AAuth-Budget without Resource.Budgets")
	}
}

// TestBudgetMetadata: budget_units is published, resource tokens carry
// the offer, and a Need may offer its own budget for one request.
func TestBudgetMetadata(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		meteredResource(nil)(rs)
		rs.Policy = func(r *http.Request, c *Caller) Need {
			n := Need{Mode: AuthToken, Scope: "data.read"}
			if r.URL.Path == "/big" {
				n.ResourceTokenClaims = map[string]any{"budget": budgetOf(4_000_000)}
			}
			return n
		}
	})
	resp, err := w.client.Get(w.srv.URL + metadataPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || !sameJSON(doc["budget_units"], []any{map[string]any{"unit": "USD", "decimals": 6, "max": 5_000_000}}) {
		t.Fatalf("budget_units %v (%v)", doc["budget_units"], err)
	}
	for path, want := range map[string]int64{"/data": 2_000_000, "/big": 4_000_000} {
		resp := w.do("GET", path, "", w.personToken(nil))
		wantStatus(t, resp, http.StatusUnauthorized, "")
		ch, _, _ := wire.ParseRequirementHeader(resp.Header)
		if rt := jwtClaims(t, ch.ResourceToken); !sameJSON(rt["budget"], budgetOf(want)) {
			t.Errorf("%s: resource token budget %v, want %d", path, rt["budget"], want)
		}
	}
}

// TestBudgetConfigErrors: an offer or unit the draft does not allow is a
// configuration error, reported on the first request.
func TestBudgetConfigErrors(t *testing.T) {
	for name, b := range map[string]*Budgets{
		"offer in an undeclared unit":   {Units: []BudgetUnit{usd}, Offer: &r3.BudgetClaim{Amount: 1, Unit: "EUR", Decimals: 2}},
		"offer with other decimals":     {Units: []BudgetUnit{usd}, Offer: &r3.BudgetClaim{Amount: 1, Unit: "USD", Decimals: 2}},
		"offer past the unit's max":     {Units: []BudgetUnit{usd}, Offer: &r3.BudgetClaim{Amount: 5_000_001, Unit: "USD", Decimals: 6}},
		"offer of 16 digits":            {Offer: &r3.BudgetClaim{Amount: 1_000_000_000_000_000, Unit: "USD", Decimals: 6}},
		"offer without a unit":          {Offer: &r3.BudgetClaim{Amount: 1}},
		"unit without a name":           {Units: []BudgetUnit{{Decimals: 2}}},
		"unit with 19 decimals":         {Units: []BudgetUnit{{Unit: "wei", Decimals: 19}}},
		"default in an undeclared unit": {Units: []BudgetUnit{usd}, Default: &r3.BudgetClaim{Amount: 1, Unit: "EUR", Decimals: 2}},
	} {
		rs := &Resource{Issuer: "https://resource.example", Budgets: b}
		if _, err := rs.config(); err == nil || !strings.Contains(err.Error(), "Resource.Budgets") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBudgetStreaming: after ChargeLater, the header carries what is held
// and announces a trailer, which carries the cost once the stream ends;
// Flush and http.ResponseController still reach the connection.
func TestBudgetStreaming(t *testing.T) {
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ChargeLater(r.Context())
		_, _ = io.WriteString(rw, "data: one\n\n")
		if err := http.NewResponseController(rw).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		rw.(http.Flusher).Flush()
		if err := Charge(r.Context(), 120); err != nil {
			t.Error(err)
		}
		_, _ = io.WriteString(rw, "data: two\n\n")
	})
	w := newWorldServing(t, meteredResource(nil), h)
	tok := w.authToken("data.read", map[string]any{"budget": budgetOf(1000)})
	resp := w.do("GET", "/stream?max=400", "", tok)
	wantStatus(t, resp, http.StatusOK, "")
	if b := resp.Header.Get(r3.BudgetHeader); b != `remaining=600, reserved=400, unit="USD", decimals=6` {
		t.Errorf("header AAuth-Budget %q", b)
	}
	if tr := resp.Trailer.Get(r3.BudgetHeader); tr != "cost=120" {
		t.Errorf("trailer AAuth-Budget %q (Trailer %q)", tr, resp.Header.Values("Trailer"))
	}
	b := budgetHeader(t, resp)
	if b.Balance() != 880 {
		t.Errorf("balance %d, want 880", b.Balance())
	}
	// The next response agrees: the unspent 280 came back.
	resp = w.do("GET", "/stream?max=0", "", tok)
	if b := budgetHeader(t, resp); b.Remaining != 880 || b.Balance() != 760 {
		t.Errorf("next response remaining %d balance %d", b.Remaining, b.Balance())
	}
}

// TestBudgetSettledCharge: without ChargeLater, a Charge after the header
// was written is refused: the cost was settled and reported.
func TestBudgetSettledCharge(t *testing.T) {
	var got error
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusAccepted)
		got = Charge(r.Context(), 1)
	})
	w := newWorldServing(t, meteredResource(nil), h)
	resp := w.do("GET", "/x?max=5", "", w.authToken("data.read", map[string]any{"budget": budgetOf(10)}))
	wantStatus(t, resp, http.StatusAccepted, "")
	wantBudget(t, resp, 5, 5)
	if !errors.Is(got, ErrBudgetSettled) {
		t.Errorf("Charge after the header: %v", got)
	}
}

// TestBudgetConcurrentLastUnits races many requests for the last units
// of one token: exactly as many are served as the budget covers, and
// never more is committed than granted.
func TestBudgetConcurrentLastUnits(t *testing.T) {
	ledger := NewMemoryBudgetLedger(0)
	w := newWorld(t, meteredResource(ledger))
	tok := w.authToken("data.read", map[string]any{"budget": budgetOf(100)})
	const n = 24 // 10 fit
	var mu sync.Mutex
	served, refused := 0, 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := w.request("GET", "/data?max=10", "")
			w.agent.sign(t, req, tok, w.clock.Now())
			resp, err := w.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusOK:
				served++
			case http.StatusUnauthorized:
				refused++
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if served != 10 || refused != n-10 {
		t.Errorf("served %d, refused %d; want 10 and %d", served, refused, n-10)
	}
	if rem, _ := ledger.Settle(context.Background(), budgetKey(w.lastCaller()), 0, 0); rem != 0 {
		t.Errorf("remaining %d after the race, want 0", rem)
	}
}

// TestMemoryBudgetLedger: holds and commits per key, keeps the smaller
// amount, forgets a budget once its token expired, and fails closed when
// full of budgets in force.
func TestMemoryBudgetLedger(t *testing.T) {
	clock := newClock()
	l := NewMemoryBudgetLedger(2)
	l.now = clock.Now
	ctx := context.Background()
	a, b, c := BudgetKey{"https://ps", "a"}, BudgetKey{"https://ps", "b"}, BudgetKey{"https://ps", "c"}
	until := clock.Now().Add(time.Hour)

	if rem, ok, err := l.Reserve(ctx, a, 100, 60, until); rem != 40 || !ok || err != nil {
		t.Fatalf("Reserve: %d %v %v", rem, ok, err)
	}
	if rem, ok, _ := l.Reserve(ctx, a, 100, 41, until); rem != 40 || ok {
		t.Fatalf("a hold past what remains: %d %v", rem, ok)
	}
	if rem, _ := l.Settle(ctx, a, 60, 1000); rem != 40 {
		t.Fatalf("a cost past the hold commits the hold only: remaining %d", rem)
	}
	if rem, ok, _ := l.Reserve(ctx, a, 50, 0, until); rem != 0 || !ok {
		t.Fatalf("a smaller amount for the same key: remaining %d %v", rem, ok)
	}
	if _, _, err := l.Reserve(ctx, a, 100, -1, until); err == nil {
		t.Fatal("a negative hold was accepted")
	}
	if _, ok, err := l.Reserve(ctx, b, 10, 0, until.Add(-30*time.Minute)); !ok || err != nil {
		t.Fatal(err)
	}
	var full *BudgetLedgerFullError
	if _, _, err := l.Reserve(ctx, c, 10, 0, until); !errors.As(err, &full) || full.RetryAfter != 30*time.Minute {
		t.Fatalf("a full ledger: %v", err)
	}
	clock.Advance(31 * time.Minute) // b's token has expired
	if _, ok, err := l.Reserve(ctx, c, 10, 5, until); !ok || err != nil {
		t.Fatalf("after b expired: %v", err)
	}
	if l.Len() != 2 {
		t.Errorf("Len %d", l.Len())
	}
	if rem, err := l.Settle(ctx, b, 5, 5); rem != 0 || err != nil {
		t.Errorf("settling a forgotten budget: %d %v", rem, err)
	}
}

// FuzzMemoryBudgetLedger drives the ledger with arbitrary holds and
// settlements (an agent's requests and a handler's charges): whatever
// they are, what is committed plus what is held never exceeds the grant,
// and remaining is never negative.
func FuzzMemoryBudgetLedger(f *testing.F) {
	f.Add(int64(100), []byte{10, 20, 200, 5, 255, 0, 99})
	f.Add(int64(0), []byte{0, 1})
	f.Add(int64(999_999_999_999_999), []byte{255, 255, 255})
	f.Fuzz(func(t *testing.T, amount int64, ops []byte) {
		if len(ops) > 256 {
			ops = ops[:256]
		}
		l := NewMemoryBudgetLedger(4)
		ctx := context.Background()
		until := time.Now().Add(time.Hour)
		var holds []int64
		for i, op := range ops {
			key := BudgetKey{"i", strconv.Itoa(int(op % 2))}
			if op&0x80 == 0 || len(holds) == 0 {
				n := int64(op) * (amount/64 + 1)
				rem, ok, err := l.Reserve(ctx, key, amount, n, until)
				if amount < 0 {
					if err == nil {
						t.Fatal("a negative amount was accepted")
					}
					return
				}
				if err != nil || rem < 0 {
					t.Fatalf("Reserve: %d %v", rem, err)
				}
				if ok {
					holds = append(holds, n)
				}
			} else {
				h := holds[len(holds)-1]
				holds = holds[:len(holds)-1]
				if rem, err := l.Settle(ctx, key, h, h-int64(i)); rem < 0 || err != nil {
					t.Fatalf("Settle: %d %v", rem, err)
				}
			}
			l.mu.Lock()
			for _, e := range l.m {
				if e.spent < 0 || e.held < 0 || e.spent+e.held > e.amount {
					t.Fatalf("entry %+v breaks the cap", *e)
				}
			}
			l.mu.Unlock()
		}
	})
}

// TestBudgetR3: an R3 resource meters too, and its budget refusal's
// resource token references every definition (and keeps the token's
// account), so that the person server can grant the tools again.
func TestBudgetR3(t *testing.T) {
	w := newR3World(t, func(rs *Resource) {
		rs.Budgets = &Budgets{Offer: &r3.BudgetClaim{Amount: 2_000_000, Unit: "USD", Decimals: 6},
			Cost: func(*http.Request, r3.BudgetClaim) (int64, error) { return 10, nil }}
	})
	resp := w.do("POST", "/mcp", toolCall(1, "search", `{"q":"x"}`), w.personToken(nil))
	wantStatus(t, resp, http.StatusUnauthorized, "")
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	claims := grantClaims(rtClaims, []string{"search"}, nil)
	claims["budget"], claims["account"] = budgetOf(15), "acct-7"
	at := w.authToken("", claims)
	resp = w.do("POST", "/mcp", toolCall(2, "search", `{"q":"x"}`), at)
	wantStatus(t, resp, http.StatusOK, "")
	wantBudget(t, resp, 5, 10)
	// A tool the token does not grant: refused before any handler, with
	// what remains.
	resp = w.do("POST", "/mcp", toolCall(4, "delete_all", ""), at)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantBudget(t, resp, 5, -1)
	resp = w.do("POST", "/mcp", toolCall(3, "search", `{"q":"y"}`), at)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	ch, _, err := wire.ParseRequirementHeader(resp.Header)
	if err != nil || ch.Extensions["reason"] != r3.ReasonInsufficientBudget {
		t.Fatalf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
	}
	again := verifyResourceToken(t, w, ch.ResourceToken)
	if again["r3_uri"] == nil || again["r3_s256"] != rtClaims["r3_s256"] || again["account"] != "acct-7" || !sameJSON(again["budget"], budgetOf(2_000_000)) {
		t.Errorf("the refusal's resource token: %v", again)
	}
}

// TestBudgetAuthorize: at the authorization endpoint an agent may ask for
// a budget; the resource narrows it to its offer, converting the scale,
// gives the offer for another unit it meters, and refuses a malformed
// budget or an undeclared unit with invalid_budget.
func TestBudgetAuthorize(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		meteredResource(nil)(rs)
		rs.AuthorizationPath = "/aauth/authorize"
		rs.Budgets.Units = append(rs.Budgets.Units, BudgetUnit{Unit: "tokens", Decimals: 0})
	})
	pt := w.personToken(nil)
	for body, want := range map[string]int64{
		`{"scope":"data.read"}`: 2_000_000,
		`{"scope":"data.read","budget":{"amount":1500,"unit":"USD","decimals":6}}`:            1500,
		`{"scope":"data.read","budget":{"amount":1,"unit":"USD","decimals":0}}`:               1_000_000,
		`{"scope":"data.read","budget":{"amount":15,"unit":"USD","decimals":7}}`:              1,
		`{"scope":"data.read","budget":{"amount":10,"unit":"USD","decimals":0}}`:              2_000_000,
		`{"scope":"data.read","budget":{"amount":999999999999999,"unit":"USD","decimals":0}}`: 2_000_000,
		`{"scope":"data.read","budget":{"amount":50000,"unit":"tokens","decimals":0}}`:        2_000_000,
		`{"scope":"data.read","budget":null}`:                                                 2_000_000,
	} {
		resp := w.do("POST", "/aauth/authorize", body, pt)
		wantStatus(t, resp, http.StatusOK, "")
		var out struct {
			ResourceToken string `json:"resource_token"`
		}
		if err := json.Unmarshal([]byte(bodyOf(resp)), &out); err != nil {
			t.Fatal(err)
		}
		if got := verifyResourceToken(t, w, out.ResourceToken)["budget"]; !sameJSON(got, budgetOf(want)) {
			t.Errorf("%s: resource token budget %v, want %d", body, got, want)
		}
	}
	for _, body := range []string{
		`{"scope":"data.read","budget":"lots"}`,
		`{"scope":"data.read","budget":{"amount":-1,"unit":"USD","decimals":6}}`,
		`{"scope":"data.read","budget":{"amount":1,"unit":"USD"}}`,
		`{"scope":"data.read","budget":{"amount":1,"unit":"EUR","decimals":2}}`,
	} {
		resp := w.do("POST", "/aauth/authorize", body, pt)
		wantStatus(t, resp, http.StatusBadRequest, "")
		if !strings.Contains(bodyOf(resp), `"error":"invalid_budget"`) {
			t.Errorf("%s: %s", body, bodyOf(resp))
		}
	}
}

// FuzzBudgetRequested feeds the authorization endpoint's budget reading
// arbitrary bodies: it never panics, and whatever the agent asks the
// resource token's budget is the offer's unit and scale, never above it.
func FuzzBudgetRequested(f *testing.F) {
	f.Add([]byte(`{"scope":"x","budget":{"amount":1,"unit":"USD","decimals":0}}`))
	f.Add([]byte(`{"budget":{"amount":999999999999999,"unit":"USD","decimals":18}}`))
	f.Add([]byte(`{"budget":{"amount":5,"unit":"tokens","decimals":0}}`))
	f.Add([]byte(`{"budget":null}`))
	f.Add([]byte(`{"budget":{"amount":1e3,"unit":"USD","decimals":6}}`))
	s := &budgetState{units: []BudgetUnit{usd, {Unit: "tokens"}}, offerClaim: r3.BudgetClaim{Amount: 2_000_000, Unit: "USD", Decimals: 6}}
	s.offer = map[string]any{"amount": s.offerClaim.Amount, "unit": "USD", "decimals": int64(6)}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, e := s.requested(body)
		if e != nil {
			if e.Status != http.StatusBadRequest || e.Code != codeInvalidBudget {
				t.Fatalf("refusal %+v", e)
			}
			return
		}
		amount, _ := got["amount"].(int64)
		if got["unit"] != "USD" || got["decimals"] != int64(6) || amount < 0 || amount > 2_000_000 {
			t.Fatalf("budget %v", got)
		}
	})
}

// FuzzFormatBudget: the resource's own AAuth-Budget writer is
// r3.FormatBudget byte for byte, whatever the figures and the unit.
func FuzzFormatBudget(f *testing.F) {
	f.Add(int64(600), int64(300), int64(0), int64(0), int64(6), "USD", uint8(r3.BudgetRemaining|r3.BudgetCost|r3.BudgetUnit))
	f.Add(int64(0), int64(0), int64(0), int64(400000), int64(6), "USD", uint8(r3.BudgetRemaining|r3.BudgetRequired|r3.BudgetUnit))
	f.Add(int64(1568800), int64(0), int64(431200), int64(0), int64(6), `U"S\D`, uint8(r3.BudgetRemaining|r3.BudgetReserved|r3.BudgetUnit))
	f.Add(int64(999_999_999_999_999), int64(1_000_000_000_000_000), int64(0), int64(0), int64(19), "é", uint8(0xff))
	f.Add(int64(-1), int64(5), int64(0), int64(0), int64(0), "", uint8(r3.BudgetCost))
	f.Fuzz(func(t *testing.T, remaining, cost, reserved, required, decimals int64, unit string, members uint8) {
		b := r3.Budget{Remaining: remaining, Cost: cost, Reserved: reserved, Required: required, Unit: unit, Decimals: decimals, Members: r3.BudgetMember(members)}
		got, err := formatBudget(b)
		want, werr := r3.FormatBudget(b)
		if got != want || (err == nil) != (werr == nil) {
			t.Fatalf("formatBudget(%+v) = %q, %v; r3.FormatBudget = %q, %v", b, got, err, want, werr)
		}
	})
}

// settleFails is a ledger whose settlements fail.
type settleFails struct{ BudgetLedger }

func (settleFails) Settle(context.Context, BudgetKey, int64, int64) (int64, error) {
	return 0, errors.New("ledger down")
}

// TestBudgetSettleFails: a settlement that fails leaves Committed untold
// and the hold in place, so the budget is short of it, never over; the
// response reports what remains (a floor) with no cost.
func TestBudgetSettleFails(t *testing.T) {
	ledger := NewMemoryBudgetLedger(0)
	told := 0
	w := newWorld(t, func(rs *Resource) {
		meteredResource(ledger)(rs)
		rs.Budgets.Ledger = settleFails{ledger}
		rs.Budgets.Committed = func(context.Context, *Caller, r3.BudgetClaim, int64) { told++ }
	})
	tok := w.authToken("data.read", map[string]any{"budget": budgetOf(1000)})
	resp := w.do("GET", "/data?charge=100", "", tok)
	wantStatus(t, resp, http.StatusOK, "")
	if v := resp.Header.Get(r3.BudgetHeader); v != `remaining=700, unit="USD", decimals=6` || told != 0 {
		t.Errorf("AAuth-Budget %q, Committed told %d times", v, told)
	}
	if rem, ok, _ := ledger.Reserve(context.Background(), budgetKey(w.lastCaller()), 1000, 0, t0.Add(time.Hour)); rem != 700 || !ok {
		t.Errorf("remaining %d after a failed settlement, want 700 (the hold of 300 kept)", rem)
	}
}

// TestBudgetDefault: with Default, an auth token without a budget claim is
// metered against the resource's own default, per token; one with a claim
// against its claim.
func TestBudgetDefault(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		meteredResource(nil)(rs)
		rs.Budgets.Default = &r3.BudgetClaim{Amount: 500, Unit: "USD", Decimals: 6}
	})
	tok := w.authToken("data.read", nil)
	resp := w.do("GET", "/data", "", tok)
	wantStatus(t, resp, http.StatusOK, "")
	wantBudget(t, resp, 200, 300)
	if c := w.lastCaller(); c.Budget == nil || c.Budget.Amount != 500 {
		t.Errorf("Caller.Budget %+v, want the default", c.Budget)
	}
	wantBudgetRefusal(t, w.do("GET", "/data", "", tok), r3.ReasonInsufficientBudget, 200, 300)
	resp = w.do("GET", "/data", "", w.authToken("data.read", map[string]any{"budget": budgetOf(1000)}))
	wantBudget(t, resp, 700, 300)
	rs := &Resource{Issuer: "https://resource.example", Budgets: &Budgets{Default: &r3.BudgetClaim{Amount: -1, Unit: "USD"}}}
	if _, err := rs.config(); err == nil || !strings.Contains(err.Error(), "Default") {
		t.Errorf("a negative Default: %v", err)
	}
}

// TestBudgetOnResourceAnswers: the answers the resource gives a budgeted
// token itself, before any handler (a scope step-up, a denial), carry
// AAuth-Budget with what remains too.
func TestBudgetOnResourceAnswers(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		meteredResource(nil)(rs)
		rs.Policy = func(r *http.Request, c *Caller) Need {
			switch r.URL.Path {
			case "/write":
				return Need{Mode: AuthToken, Scope: "data.write"}
			case "/denied":
				return Need{Deny: true}
			}
			return Need{Mode: AuthToken, Scope: "data.read"}
		}
	})
	tok := w.authToken("data.read", map[string]any{"budget": budgetOf(1000)})
	wantBudget(t, w.do("GET", "/data?charge=100", "", tok), 900, 100)
	resp := w.do("GET", "/write", "", tok)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	wantBudget(t, resp, 900, -1)
	resp = w.do("GET", "/denied", "", tok)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantBudget(t, resp, 900, -1)
	if b := budgetHeader(t, resp); b.Has(r3.BudgetCost) {
		t.Errorf("a refusal reports a cost: %+v", b)
	}
	// Tokens without a budget get none.
	resp = w.do("GET", "/denied", "", w.authToken("data.read", nil))
	if v := resp.Header.Get(r3.BudgetHeader); v != "" {
		t.Errorf("AAuth-Budget %q for a token without a budget", v)
	}
}

// TestBudgetFieldCanonical: the key metering sets is AAuth-Budget's.
func TestBudgetFieldCanonical(t *testing.T) {
	if got := http.CanonicalHeaderKey(r3.BudgetHeader); got != budgetField {
		t.Fatalf("canonical %q, budgetField %q", got, budgetField)
	}
}
