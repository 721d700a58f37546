package r3

import (
	"encoding/json"
	"errors"
	"testing"
)

func mcpDef(summary string, tools ...string) *Document {
	d := &Document{Vocabulary: VocabularyMCP, Operations: Tools(tools...).Operations}
	if summary != "" {
		d.Display = &Display{Summary: summary, Implications: summary + " happens."}
	}
	return d
}

func TestSelectOneDefinitionKeepsItsBytes(t *testing.T) {
	read := mcpDef("Read your calendar", "list_events", "get_event")
	write := mcpDef("Change your calendar", "create_event", "delete_event")
	want, err := Encode(read)
	if err != nil {
		t.Fatal(err)
	}
	// Requested in another order, with a repeat: still exactly read's set.
	got, err := Select([]*Document{read, write}, Tools("get_event", "list_events", "get_event"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	if enc.S256 != want.S256 {
		t.Errorf("the definition's own document was not reused:\n%s\n%s", enc.Bytes, want.Bytes)
	}
}

func TestSelectComposesAcrossDefinitions(t *testing.T) {
	read := mcpDef("Read your calendar", "list_events", "get_event")
	write := mcpDef("Change your calendar", "create_event", "delete_event")
	defs := []*Document{read, write}
	a, err := Select(defs, Tools("list_events", "create_event"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Select(defs, Tools("create_event", "list_events", "list_events"))
	if err != nil {
		t.Fatal(err)
	}
	ea, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := Encode(b)
	if ea.S256 != eb.S256 {
		t.Errorf("same combination, different documents:\n%s\n%s", ea.Bytes, eb.Bytes)
	}
	want := `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"create_event"},{"tool":"list_events"}],"display":{"summary":"Read your calendar; Change your calendar","implications":"Read your calendar happens. Change your calendar happens."}}`
	if string(ea.Bytes) != want {
		t.Errorf("composed =\n%s\nwant\n%s", ea.Bytes, want)
	}
	// Only the requested operations, not the definitions' other ones.
	if len(a.Operations) != 2 {
		t.Errorf("operations = %v", a.Operations)
	}
}

func TestSelectRefuses(t *testing.T) {
	defs := []*Document{mcpDef("r", "a", "b")}
	if _, err := Select(defs, Tools("a", "zzz")); !errors.Is(err, ErrNotCovered) {
		t.Errorf("unknown tool: %v", err)
	}
	if _, err := Select(defs, OperationSet{Vocabulary: VocabularyOpenAPI, Operations: []Operation{{OperationID: "a"}}}); !errors.Is(err, ErrVocabulary) {
		t.Errorf("other vocabulary: %v", err)
	}
	if _, err := Select(defs, OperationSet{Vocabulary: "urn:aauth:vocabulary:nope", Operations: []Operation{Tool("a")}}); !errors.Is(err, ErrUnknownVocabulary) {
		t.Errorf("unknown vocabulary: %v", err)
	}
	if _, err := Select(defs, OperationSet{Vocabulary: VocabularyMCP}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty request: %v", err)
	}
	// A stored proposal is never a definition to select from.
	prop := mcpDef("p", "a")
	prop.Parameters = map[string]json.RawMessage{}
	if _, err := Select([]*Document{prop}, Tools("a")); err == nil {
		t.Errorf("selected a proposal")
	}
}

func TestSelectODataNarrowsMethods(t *testing.T) {
	def := &Document{Vocabulary: VocabularyOData, Operations: []Operation{{Operation: "Events", Methods: []string{"GET", "POST"}}}}
	got, err := Select([]*Document{def}, OperationSet{Vocabulary: VocabularyOData, Operations: []Operation{{Operation: "Events", Methods: []string{"GET"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Operations) != 1 || len(got.Operations[0].Methods) != 1 {
		t.Errorf("got %+v, want the narrower request", got.Operations)
	}
	if _, err := Select([]*Document{def}, OperationSet{Vocabulary: VocabularyOData, Operations: []Operation{{Operation: "Events", Methods: []string{"DELETE"}}}}); !errors.Is(err, ErrNotCovered) {
		t.Errorf("DELETE: %v", err)
	}
}

func TestCompose(t *testing.T) {
	a := mcpDef("A", "x", "y")
	b := mcpDef("B", "y", "z")
	c := mcpDef("", "w")
	d, err := Compose(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, op := range d.Operations {
		names = append(names, op.Tool)
	}
	if got := join("", names[0], names[1], names[2], names[3]); got != "w.x.y.z" {
		t.Errorf("operations = %v", names)
	}
	if d.Display.Summary != "A; B" {
		t.Errorf("summary = %q", d.Display.Summary)
	}
	if _, err := Compose(); err == nil {
		t.Error("Compose() succeeded")
	}
	if _, err := Compose(a, &Document{Vocabulary: VocabularyOpenAPI, Operations: []Operation{{OperationID: "q"}}}); !errors.Is(err, ErrVocabulary) {
		t.Errorf("mixed vocabularies: %v", err)
	}
	a1, b1 := mcpDef("A", "x"), mcpDef("B", "y")
	a1.Account, b1.Account = "one", "two"
	if _, err := Compose(a1, b1); !errors.Is(err, ErrInvalid) {
		t.Errorf("two accounts: %v", err)
	}
	b1.Account = ""
	if d, err := Compose(a1, b1); err != nil || d.Account != "one" {
		t.Errorf("one account: %+v %v", d, err)
	}
	// No display with a summary among the inputs: none in the result.
	if d, err := Compose(mcpDef("", "a"), mcpDef("", "b")); err != nil || d.Display != nil {
		t.Errorf("displays: %+v %v", d, err)
	}
}
