package r3

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The R3 -02 examples (§R3 Document, §Proposal Document, and one per
// vocabulary in §Standard Vocabularies), as a resource might serve them.
var draftDocs = map[string]string{
	"mcp-document": `{
  "vocabulary": "urn:aauth:vocabulary:mcp",
  "operations": [
    { "tool": "create_calendar_event" },
    { "tool": "modify_calendar_event" }
  ],
  "account": "dick@example.com",
  "display": {
    "summary": "Create and modify events on your work calendar (dick@example.com)",
    "implications": "Meetings can be scheduled or rescheduled. Existing events can be modified.",
    "data_accessed": "Event titles, times, attendees, and descriptions in the work calendar",
    "irreversible": "Sent meeting invitations cannot be unsent"
  }
}`,
	"mcp-proposal": `{
  "vocabulary": "urn:aauth:vocabulary:mcp",
  "operations": [ { "tool": "send_email" } ],
  "parameters": {
    "to": "mom@example.com",
    "subject": "Dinner Sunday?",
    "body": { "s256": "aBcDaBcDaBcDaBcDaBcDaBcDaBcDaBcDaBcDaBcDaBc", "excerpt": "Hi Mom, are you free…", "media_type": "text/plain" }
  },
  "display": {
    "summary": "Send an email as you",
    "detail": "## Action\nSend an email\n\n## To\nmom@example.com"
  }
}`,
	"openapi":  `{"vocabulary":"urn:aauth:vocabulary:openapi","operations":[{"operationId":"createEvent"},{"operationId":"updateEvent"}]}`,
	"grpc":     `{"vocabulary":"urn:aauth:vocabulary:grpc","operations":[{"method":"calendar.CalendarService/CreateEvent"}]}`,
	"graphql":  `{"vocabulary":"urn:aauth:vocabulary:graphql","operations":[{"operation":"CreateCalendarEvent","type":"mutation"},{"operation":"GetCalendarEvents","type":"query"}]}`,
	"asyncapi": `{"vocabulary":"urn:aauth:vocabulary:asyncapi","operations":[{"operationId":"publishCalendarUpdate","action":"send"},{"operationId":"receiveCalendarEvent","action":"receive"}]}`,
	"wsdl":     `{"vocabulary":"urn:aauth:vocabulary:wsdl","operations":[{"operation":"CreateCalendarEvent","service":"CalendarService"}]}`,
	"odata":    `{"vocabulary":"urn:aauth:vocabulary:odata","operations":[{"operation":"Events","methods":["GET","POST","PATCH"]},{"operation":"Events/SendCancellation"}]}`,
	"third":    `{"vocabulary":"https://vocab.example/rpc","operations":[{"proc":"x","version":2}]}`,
}

func TestParseDraftExamples(t *testing.T) {
	for name, src := range draftDocs {
		t.Run(name, func(t *testing.T) {
			d, err := Parse([]byte(src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d.IsProposal() != strings.Contains(name, "proposal") {
				t.Errorf("IsProposal = %v", d.IsProposal())
			}
			enc, err := Encode(d)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			// Parse(Encode(d)) encodes to the same bytes: the encoding is a
			// fixed point, which is what makes r3_s256 stable.
			d2, err := Parse(enc.Bytes)
			if err != nil {
				t.Fatalf("Parse(Encode): %v\n%s", err, enc.Bytes)
			}
			enc2, err := Encode(d2)
			if err != nil {
				t.Fatal(err)
			}
			if string(enc2.Bytes) != string(enc.Bytes) || enc2.S256 != enc.S256 {
				t.Errorf("not a fixed point:\n%s\n%s", enc.Bytes, enc2.Bytes)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	d, err := Parse([]byte(draftDocs["mcp-document"]))
	if err != nil {
		t.Fatal(err)
	}
	if d.Vocabulary != VocabularyMCP || len(d.Operations) != 2 || d.Operations[1].Tool != "modify_calendar_event" {
		t.Errorf("operations = %+v", d.Operations)
	}
	if d.Account != "dick@example.com" || d.Display == nil || d.Display.DataAccessed == "" || d.Display.Irreversible == "" {
		t.Errorf("document = %+v display %+v", d, d.Display)
	}
	p, err := Parse([]byte(draftDocs["mcp-proposal"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Parameters) != 3 || p.Display.Detail == "" {
		t.Errorf("proposal = %+v", p)
	}
	if dg, ok := ParseDigest(p.Parameters["body"]); !ok || dg.MediaType != "text/plain" {
		t.Errorf("body digest = %+v %v", dg, ok)
	}
	o, _ := Parse([]byte(draftDocs["odata"]))
	if got := o.Operations[0].Methods; len(got) != 3 || got[2] != "PATCH" {
		t.Errorf("odata methods = %v", got)
	}
	third, _ := Parse([]byte(draftDocs["third"]))
	if string(third.Operations[0].Extra["version"]) != "2" {
		t.Errorf("third-party operation = %+v", third.Operations[0])
	}
}

func TestParseKeepsUnknownMembers(t *testing.T) {
	// version was removed in -02; a -01 document still parses and keeps it.
	src := `{"version":"1","vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","title":"A"}],"display":{"summary":"s","icon":"i"},"x-note":{"k":[1,2]}}`
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Extra["version"]) != `"1"` || string(d.Operations[0].Extra["title"]) != `"A"` || string(d.Display.Extra["icon"]) != `"i"` {
		t.Fatalf("extras lost: %+v %+v %+v", d.Extra, d.Operations[0].Extra, d.Display.Extra)
	}
	enc, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","title":"A"}],"display":{"summary":"s","icon":"i"},"version":"1","x-note":{"k":[1,2]}}`
	if string(enc.Bytes) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", enc.Bytes, want)
	}
}

func TestParseLiberal(t *testing.T) {
	for name, src := range map[string]string{
		"display null":         `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"display":null}`,
		"display no summary":   `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"display":{"implications":"x"}}`,
		"no display":           `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]}`,
		"proposal no args":     `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":{}}`,
		"white space":          " \n{ \"vocabulary\" : \"urn:aauth:vocabulary:mcp\" , \"operations\" : [ { \"tool\" : \"a\" } ] }\n ",
		"urn third party":      `{"vocabulary":"urn:example:vocab","operations":[{"x":1}]}`,
		"mcp op with extra":    `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","type":5}]}`,
		"asyncapi no action":   `{"vocabulary":"urn:aauth:vocabulary:asyncapi","operations":[{"operationId":"a"}]}`,
		"unicode tool":         `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"\u00e9crire"}]}`,
		"escaped vocabulary":   `{"vocabulary":"urn:aauth:vocabulary:mc\u0070","operations":[{"tool":"a"}]}`,
		"account null ignored": `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"account":null}`,
	} {
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	var many strings.Builder
	many.WriteString(`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[`)
	for i := 0; i <= MaxOperations; i++ {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"tool":"t"}`)
	}
	many.WriteString("]}")
	cases := []struct {
		name, src string
		code      Code
	}{
		{"empty", ``, CodeSyntax},
		{"not json", `vocabulary`, CodeSyntax},
		{"array", `[]`, CodeInvalid},
		{"string", `"x"`, CodeInvalid},
		{"trailing data", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]} {}`, CodeSyntax},
		{"invalid utf-8", "{\"vocabulary\":\"urn:aauth:vocabulary:mcp\",\"operations\":[{\"tool\":\"\xff\"}]}", CodeSyntax},
		{"duplicate top member", `{"vocabulary":"urn:aauth:vocabulary:mcp","vocabulary":"urn:aauth:vocabulary:openapi","operations":[{"tool":"a"}]}`, CodeDuplicateMember},
		{"duplicate op member", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","tool":"b"}]}`, CodeDuplicateMember},
		{"duplicate in parameters", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":{"to":"x","to":"y"}}`, CodeDuplicateMember},
		{"no vocabulary", `{"operations":[{"tool":"a"}]}`, CodeInvalid},
		{"vocabulary number", `{"vocabulary":1,"operations":[{"tool":"a"}]}`, CodeInvalid},
		{"vocabulary empty", `{"vocabulary":"","operations":[{"tool":"a"}]}`, CodeInvalid},
		{"openapi-gateway removed in -02", `{"vocabulary":"urn:aauth:vocabulary:openapi-gateway","operations":[{"service":"a","operationId":"b"}]}`, CodeUnknownVocabulary},
		{"unknown standard", `{"vocabulary":"urn:aauth:vocabulary:soap","operations":[{"x":"a"}]}`, CodeUnknownVocabulary},
		{"upper-case namespace", `{"vocabulary":"URN:AAUTH:VOCABULARY:MCP","operations":[{"tool":"a"}]}`, CodeUnknownVocabulary},
		{"relative vocabulary", `{"vocabulary":"mcp","operations":[{"tool":"a"}]}`, CodeInvalid},
		{"no operations", `{"vocabulary":"urn:aauth:vocabulary:mcp"}`, CodeInvalid},
		{"operations empty", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[]}`, CodeInvalid},
		{"operations object", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":{"tool":"a"}}`, CodeInvalid},
		{"operations null", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":null}`, CodeInvalid},
		{"operation not object", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":["a"]}`, CodeInvalid},
		{"tool missing", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"name":"a"}]}`, CodeInvalid},
		{"tool empty", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":""}]}`, CodeInvalid},
		{"tool number", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":7}]}`, CodeInvalid},
		{"tool too long", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"` + strings.Repeat("t", MaxIdentifierLen+1) + `"}]}`, CodeTooLarge},
		{"graphql bad type", `{"vocabulary":"urn:aauth:vocabulary:graphql","operations":[{"operation":"A","type":"fragment"}]}`, CodeInvalid},
		{"graphql no type", `{"vocabulary":"urn:aauth:vocabulary:graphql","operations":[{"operation":"A"}]}`, CodeInvalid},
		{"asyncapi bad action", `{"vocabulary":"urn:aauth:vocabulary:asyncapi","operations":[{"operationId":"a","action":"publish"}]}`, CodeInvalid},
		{"odata methods string", `{"vocabulary":"urn:aauth:vocabulary:odata","operations":[{"operation":"E","methods":"GET"}]}`, CodeInvalid},
		{"odata methods empty", `{"vocabulary":"urn:aauth:vocabulary:odata","operations":[{"operation":"E","methods":[]}]}`, CodeInvalid},
		{"third-party empty op", `{"vocabulary":"https://v.example/x","operations":[{}]}`, CodeInvalid},
		{"parameters array", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":[]}`, CodeInvalid},
		{"parameters null", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":null}`, CodeInvalid},
		{"proposal of two operations", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"},{"tool":"b"}],"parameters":{}}`, CodeInvalid},
		{"display string", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"display":"s"}`, CodeInvalid},
		{"summary number", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"display":{"summary":1}}`, CodeInvalid},
		{"account number", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"account":1}`, CodeInvalid},
		{"too deep", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"x":` + deep + `}`, CodeTooLarge},
		{"too many operations", many.String(), CodeTooLarge},
		{"too large", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"x":"` + strings.Repeat("x", MaxDocumentSize) + `"}`, CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.src))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != c.code {
				t.Errorf("code = %s (%v), want %s", e.Code, err, c.code)
			}
			if !errors.Is(err, &Error{Code: c.code}) {
				t.Errorf("errors.Is with the sentinel failed")
			}
			if n := strings.Count(err.Error(), "aauth:"); n != 1 {
				t.Errorf("prefix appears %d times: %v", n, err)
			}
		})
	}
}

func TestErrorNeverQuotesValues(t *testing.T) {
	secret := "sk-live-0123456789"
	for _, src := range []string{
		`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"` + secret + `","tool":"x"}]}`,
		`{"vocabulary":"urn:aauth:vocabulary:` + secret + `","operations":[{"tool":"a"}]}`,
		`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":{"p":"` + secret + `","p":"y"}}`,
	} {
		_, err := Parse([]byte(src))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("err = %v", err)
		}
	}
}

func TestEncodeGolden(t *testing.T) {
	d := &Document{
		Vocabulary: VocabularyMCP,
		Operations: []Operation{Tool("search"), Tool("fetch <page> & \"quote\"")},
		Account:    "acct-1",
		Display: &Display{
			Summary:      "Search and fetch\u2028pages",
			Implications: "Reads the web\n\ttabbed",
		},
	}
	enc, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search"},{"tool":"fetch <page> & \"quote\""}],"account":"acct-1","display":{"summary":"Search and fetch\u2028pages","implications":"Reads the web\n\ttabbed"}}`
	if string(enc.Bytes) != want {
		t.Fatalf("Encode =\n%s\nwant\n%s", enc.Bytes, want)
	}
	sum := sha256.Sum256([]byte(want))
	if enc.S256 != base64.RawURLEncoding.EncodeToString(sum[:]) || len(enc.S256) != 43 {
		t.Errorf("S256 = %s", enc.S256)
	}
	// The bytes are the JSON encoding/json reads back to the same strings.
	var back struct {
		Operations []struct{ Tool string }
		Display    struct{ Summary, Implications string }
	}
	if err := json.Unmarshal(enc.Bytes, &back); err != nil || back.Operations[1].Tool != d.Operations[1].Tool || back.Display.Summary != d.Display.Summary {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if _, err := Verify(enc.Bytes, enc.S256); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestEncodeEveryVocabularyOrder(t *testing.T) {
	cases := []struct {
		vocab string
		op    Operation
		want  string
	}{
		{VocabularyOpenAPI, Operation{OperationID: "a"}, `{"operationId":"a"}`},
		{VocabularyGRPC, Operation{Method: "p.S/M"}, `{"method":"p.S/M"}`},
		{VocabularyGraphQL, Operation{Operation: "Q", Type: "query"}, `{"operation":"Q","type":"query"}`},
		{VocabularyAsyncAPI, Operation{OperationID: "e", Action: "receive"}, `{"operationId":"e","action":"receive"}`},
		{VocabularyAsyncAPI, Operation{OperationID: "e"}, `{"operationId":"e"}`},
		{VocabularyWSDL, Operation{Operation: "Op", Service: "S"}, `{"operation":"Op","service":"S"}`},
		{VocabularyOData, Operation{Operation: "E", Methods: []string{"GET"}}, `{"operation":"E","methods":["GET"]}`},
		{"https://v.example/x", Operation{Extra: map[string]json.RawMessage{"b": json.RawMessage(`2`), "a": json.RawMessage(` "x" `)}}, `{"a":"x","b":2}`},
	}
	for _, c := range cases {
		enc, err := Encode(&Document{Vocabulary: c.vocab, Operations: []Operation{c.op}})
		if err != nil {
			t.Fatalf("%s: %v", c.vocab, err)
		}
		want := `{"vocabulary":"` + c.vocab + `","operations":[` + c.want + `]}`
		if string(enc.Bytes) != want {
			t.Errorf("%s:\n got %s\nwant %s", c.vocab, enc.Bytes, want)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	cases := map[string]*Document{
		"no vocabulary":         {Operations: []Operation{Tool("a")}},
		"no operations":         {Vocabulary: VocabularyMCP},
		"wrong member for mcp":  {Vocabulary: VocabularyMCP, Operations: []Operation{{Tool: "a", OperationID: "b"}}},
		"typed on third party":  {Vocabulary: "https://v.example/x", Operations: []Operation{Tool("a")}},
		"extra duplicates tool": {Vocabulary: VocabularyMCP, Operations: []Operation{{Tool: "a", Extra: map[string]json.RawMessage{"tool": json.RawMessage(`"b"`)}}}},
		"extra not json":        {Vocabulary: VocabularyMCP, Operations: []Operation{{Tool: "a", Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}}},
		"display no summary":    {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Display: &Display{Detail: "d"}},
		"proposal two ops":      {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a"), Tool("b")}, Parameters: map[string]json.RawMessage{}},
		"parameter not json":    {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Parameters: map[string]json.RawMessage{"p": json.RawMessage(`nope`)}},
		"parameter dup inside":  {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Parameters: map[string]json.RawMessage{"p": json.RawMessage(`{"a":1,"a":2}`)}},
		"extra shadows member":  {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Extra: map[string]json.RawMessage{"account": json.RawMessage(`"x"`)}},
		"display extra shadows": {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Display: &Display{Summary: "s", Extra: map[string]json.RawMessage{"summary": json.RawMessage(`"x"`)}}},
		"too large": {Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}, Display: &Display{
			Summary: strings.Repeat("s", MaxDocumentSize)}},
	}
	for name, d := range cases {
		if _, err := Encode(d); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		} else if strings.Count(err.Error(), "aauth:") != 1 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerify(t *testing.T) {
	enc, err := Encode(&Document{Vocabulary: VocabularyMCP, Operations: []Operation{Tool("a")}})
	if err != nil {
		t.Fatal(err)
	}
	// One byte of white space changes the hash: the bytes are the document.
	spaced := append([]byte(" "), enc.Bytes...)
	if _, err := Verify(spaced, enc.S256); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("Verify(spaced) = %v", err)
	}
	if _, err := Verify(enc.Bytes, strings.Repeat("A", 43)); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("Verify(wrong hash) = %v", err)
	}
	// A hash that matches bytes that are not a document still fails to parse.
	junk := []byte(`{"x":1}`)
	if _, err := Verify(junk, S256(junk)); err == nil || errors.Is(err, ErrHashMismatch) {
		t.Errorf("Verify(junk) = %v", err)
	}
}

func TestCheckVocabulary(t *testing.T) {
	for v, ok := range map[string]bool{
		VocabularyMCP: true, VocabularyOData: true, "https://example.com/v": true, "urn:example:v": true,
		"": false, "mcp": false, "urn:aauth:vocabulary:openapi-gateway": false, "urn:aauth:vocabulary:": false,
		"https://exa mple.com": false, "urn:aauth:Vocabulary:mcp": false,
	} {
		if err := CheckVocabulary(v); (err == nil) != ok {
			t.Errorf("CheckVocabulary(%q) = %v", v, err)
		}
	}
}
