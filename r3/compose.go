package r3

import (
	"slices"
	"strings"
)

// Compose returns one document covering every operation of docs: what a
// resource does when the operations an agent asked for span several of
// its definitions (R3 §Operations Spanning Multiple Definitions). The
// operations are the union, each once, sorted by identity, so the same
// combination always encodes to the same bytes; the display merges the
// documents' displays (see Select). The documents must share a vocabulary
// and an account (or have none), and none may be a proposal.
func Compose(docs ...*Document) (*Document, error) {
	if len(docs) == 0 {
		return nil, errAt(CodeInvalid, "", "no documents to compose")
	}
	var ops []Operation
	for _, d := range docs {
		ops = append(ops, d.Operations...)
	}
	return compose(docs, ops)
}

// Select maps the operations an agent requested (r3_operations, R3
// §Authorization Endpoint Extensions) to the resource's definitions and
// returns the one document a resource token should reference:
//
//   - every requested operation must be covered by an operation of one of
//     defs in the same vocabulary, or Select fails with ErrNotCovered
//     (the resource answers invalid_scope or its R3 equivalent); R3
//     §Operation Validation requires checking them against the
//     resource's authoritative definitions;
//   - when the requested operations are exactly one definition's, that
//     definition is returned as it is, so its bytes and r3_s256 stay
//     stable;
//   - otherwise the result is composed: the requested operations (each
//     once, sorted), the contributing definitions' displays merged
//     (summaries joined with "; ", implications, data accessed and
//     irreversible effects joined likewise, duplicates dropped).
//
// The caller sets Account from the request and may replace Display with
// a purpose-written one before Encode.
func Select(defs []*Document, requested OperationSet) (*Document, error) {
	if err := requested.Validate(); err != nil {
		return nil, err
	}
	var used []*Document
	sameVocab := false
	for i, op := range requested.Operations {
		found := false
		for _, d := range defs {
			if d.Vocabulary != requested.Vocabulary || d.IsProposal() {
				continue
			}
			sameVocab = true
			if d.OperationSet().Covers(requested.Vocabulary, op) {
				found = true
				if !slices.Contains(used, d) {
					used = append(used, d)
				}
				break
			}
		}
		if !found {
			if !sameVocab {
				return nil, errAt(CodeVocabulary, "vocabulary", "no definition in this vocabulary")
			}
			return nil, errAt(CodeNotCovered, join("operations", i), "")
		}
	}
	// The definitions' order, not the request's, so that the same
	// combination always merges the same display.
	slices.SortFunc(used, func(a, b *Document) int {
		return slices.Index(defs, a) - slices.Index(defs, b)
	})
	if len(used) == 1 && sameKeys(used[0].Operations, requested.Operations, requested.Vocabulary) {
		cp := *used[0]
		return &cp, nil
	}
	return compose(used, requested.Operations)
}

// compose builds the document for ops from the definitions docs.
func compose(docs []*Document, ops []Operation) (*Document, error) {
	vocab := docs[0].Vocabulary
	account := ""
	for _, d := range docs {
		if d.IsProposal() {
			return nil, errAt(CodeInvalid, "parameters", "a proposal cannot be composed")
		}
		if d.Vocabulary != vocab {
			return nil, errAt(CodeVocabulary, "vocabulary", "documents differ")
		}
		if d.Account != "" {
			if account != "" && account != d.Account {
				return nil, errAt(CodeInvalid, "account", "documents differ")
			}
			account = d.Account
		}
	}
	out := &Document{Vocabulary: vocab, Account: account, Operations: uniqueSorted(ops, vocab)}
	out.Display = mergeDisplays(docs)
	return out, nil
}

// uniqueSorted returns ops without repeats, ordered by identity.
func uniqueSorted(ops []Operation, vocab string) []Operation {
	seen := map[string]bool{}
	type keyed struct {
		key string
		op  Operation
	}
	var list []keyed
	for _, op := range ops {
		k := op.key(vocab)
		if seen[k] {
			continue
		}
		seen[k] = true
		list = append(list, keyed{k, op})
	}
	slices.SortFunc(list, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	out := make([]Operation, len(list))
	for i, k := range list {
		out[i] = k.op
	}
	return out
}

// sameKeys reports whether a and b name the same operations, in any order.
func sameKeys(a, b []Operation, vocab string) bool {
	ka := map[string]bool{}
	for _, op := range a {
		ka[op.key(vocab)] = true
	}
	kb := map[string]bool{}
	for _, op := range b {
		kb[op.key(vocab)] = true
	}
	if len(ka) != len(kb) {
		return false
	}
	for k := range ka {
		if !kb[k] {
			return false
		}
	}
	return true
}

// mergeDisplays merges the displays of docs, or returns nil if none has
// one.
func mergeDisplays(docs []*Document) *Display {
	var summary, impl, data, irrev []string
	add := func(list []string, s string) []string {
		if s == "" || slices.Contains(list, s) {
			return list
		}
		return append(list, s)
	}
	for _, d := range docs {
		if d.Display == nil {
			continue
		}
		summary = add(summary, d.Display.Summary)
		impl = add(impl, d.Display.Implications)
		data = add(data, d.Display.DataAccessed)
		irrev = add(irrev, d.Display.Irreversible)
	}
	if len(summary) == 0 {
		return nil // a display needs a summary (R3 §Fields)
	}
	return &Display{
		Summary:      strings.Join(summary, "; "),
		Implications: strings.Join(impl, " "),
		DataAccessed: strings.Join(data, "; "),
		Irreversible: strings.Join(irrev, " "),
	}
}
