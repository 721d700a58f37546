package aauth_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// CONFORMANCE.md maps the drafts' rules to the code and the tests that
// prove them. These tests keep it honest: every test it names must be a
// test function declared in that package's test files, every case it
// names a string in them, and every file and declaration it names in the
// "Implemented in" column must exist. They only parse source; nothing is
// built or run.

// conformanceFile is the matrix, at the module root.
const conformanceFile = "CONFORMANCE.md"

// testRef is a reference in the "Tested by" column: `dir.TestName` or
// `dir.TestName/case/subcase`, where dir is the package's directory in
// the module ("aauth" for the root) and a case is a t.Run name or the
// name of a row of the test's table, spaces written as "_" as go test
// does.
var testRef = regexp.MustCompile(`^([a-z0-9][a-z0-9_/-]*)\.((?:Test|Example|Fuzz)[A-Za-z0-9_]*)((?:/[^/]+)*)$`)

// goIdent is a declaration named in the "Implemented in" column: Name, or
// Type.Name for a method or a struct field.
var goIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// rowID is a row's ID: SA-01, CC-12, MG-07, R3-03, BU-02, LB-04, …
var rowID = regexp.MustCompile(`^[A-Z][A-Z0-9]-[0-9]{2}$`)

var backticked = regexp.MustCompile("`([^`]+)`")

func TestConformance(t *testing.T) {
	md, err := os.ReadFile(conformanceFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, problems := checkConformance(string(md), ".")
	for _, p := range problems {
		t.Error(p)
	}
	if rows < 100 {
		t.Errorf("%s has %d rows: the tables were not read", conformanceFile, rows)
	}
}

// The check finds what has gone stale: a test renamed or removed, a case
// renamed, a file moved, a function renamed.
func TestConformanceCatchesStaleReferences(t *testing.T) {
	md := "# x\n\n" +
		"| ID | Draft § | Level | Rule | Implemented in | Tested by |\n" +
		"|---|---|---|---|---|---|\n" +
		"| XX-01 | §1 | MUST | fine | `chain.go` `WithUpstream` `ChainError.Err` `ChainError.Unwrap` | `aauth.TestChainHostile/upstream-expired`, `aauthtest.TestPSChainFlow` |\n" +
		"| XX-02 | §1 | MUST | stale | `chain.go` `NoSuchFunc` | `aauth.TestNoSuchTest` |\n" +
		"| XX-03 | §1 | MUST | stale | `no/such/file.go` | `aauth.TestChainHostile/no-such-case` |\n" +
		"| XX-03 | §1 | MUST | twice | — | `nosuchdir.TestX`, `not a reference` |\n"
	rows, problems := checkConformance(md, ".")
	if rows != 4 {
		t.Errorf("%d rows, want 4", rows)
	}
	want := []string{
		"XX-02: NoSuchFunc is not declared in chain.go",
		"XX-02: aauth.TestNoSuchTest: no test function TestNoSuchTest",
		"XX-03: no/such/file.go does not exist",
		`XX-03: aauth.TestChainHostile/no-such-case: no string "no-such-case"`,
		"XX-03: the ID is used twice",
		"XX-03: nosuchdir.TestX:",
		`XX-03: "not a reference" is not a test reference`,
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for _, w := range want {
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("no problem says %q; got:\n%s", w, strings.Join(problems, "\n"))
		}
	}
}

// checkConformance checks the tables of md against the module at root and
// returns how many rows it read and what is wrong.
func checkConformance(md, root string) (rows int, problems []string) {
	pkgs := map[string]*testPkg{}
	files := map[string]*declFile{}
	ids := map[string]bool{}
	implCol, testCol := -1, -1
	for n, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			implCol, testCol = -1, -1 // a table ends
			continue
		}
		cells := splitRow(line)
		if implCol < 0 {
			// The header row.
			for i, c := range cells {
				switch strings.ToLower(c) {
				case "implemented in":
					implCol = i
				case "tested by":
					testCol = i
				}
			}
			if implCol < 0 || testCol < 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: a table without the columns Implemented in and Tested by", conformanceFile, n+1))
				implCol, testCol = len(cells), len(cells) // skip the table
			}
			continue
		}
		if len(cells) == 0 || strings.Trim(cells[0], "-: ") == "" {
			continue // the delimiter row
		}
		if len(cells) <= testCol || len(cells) <= implCol {
			problems = append(problems, fmt.Sprintf("%s:%d: %d cells", conformanceFile, n+1, len(cells)))
			continue
		}
		id := cells[0]
		rows++
		switch {
		case !rowID.MatchString(id):
			problems = append(problems, fmt.Sprintf("%s:%d: %q is not a row ID", conformanceFile, n+1, id))
		case ids[id]:
			problems = append(problems, fmt.Sprintf("%s: the ID is used twice", id))
		}
		ids[id] = true
		problems = append(problems, checkImplemented(id, cells[implCol], root, files)...)
		problems = append(problems, checkTested(id, cells[testCol], root, pkgs)...)
	}
	return rows, problems
}

// splitRow splits a Markdown table row into its trimmed cells (an escaped
// "\|" stays in its cell).
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

// checkImplemented checks the "Implemented in" cell: each backticked
// `path.go` must be a file of the module, and each backticked name after
// it must be declared in that file.
func checkImplemented(id, cell, root string, files map[string]*declFile) (problems []string) {
	var cur *declFile
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		tok := m[1]
		switch {
		case strings.HasSuffix(tok, ".go"):
			f, ok := files[tok]
			if !ok {
				f = parseDecls(filepath.Join(root, filepath.FromSlash(tok)))
				files[tok] = f
			}
			if f.err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s does not exist or does not parse: %v", id, tok, f.err))
				cur = nil
				continue
			}
			cur = f
			cur.path = tok
		case goIdent.MatchString(tok):
			if cur == nil {
				problems = append(problems, fmt.Sprintf("%s: %s names no file before it", id, tok))
				continue
			}
			if !cur.decls[tok] {
				problems = append(problems, fmt.Sprintf("%s: %s is not declared in %s", id, tok, cur.path))
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: %q in Implemented in is neither a file nor a declaration", id, tok))
		}
	}
	return problems
}

// checkTested checks the "Tested by" cell: every backticked reference.
func checkTested(id, cell, root string, pkgs map[string]*testPkg) (problems []string) {
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		ref := m[1]
		sm := testRef.FindStringSubmatch(ref)
		if sm == nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a test reference (dir.TestName or dir.TestName/case)", id, ref))
			continue
		}
		dir, name, cases := sm[1], sm[2], sm[3]
		if dir == "aauth" {
			dir = "."
		}
		p, ok := pkgs[dir]
		if !ok {
			p = parseTestPkg(filepath.Join(root, filepath.FromSlash(dir)))
			pkgs[dir] = p
		}
		switch {
		case p.err != nil:
			problems = append(problems, fmt.Sprintf("%s: %s: %v", id, ref, p.err))
			continue
		case !p.funcs[name]:
			problems = append(problems, fmt.Sprintf("%s: %s: no test function %s in the *_test.go files of %s", id, ref, name, sm[1]))
		}
		for _, c := range strings.Split(strings.TrimPrefix(cases, "/"), "/") {
			if c != "" && !p.strings[c] {
				problems = append(problems, fmt.Sprintf("%s: %s: no string %q in the *_test.go files of %s", id, ref, c, sm[1]))
			}
		}
	}
	// What is outside backticks must not look like a reference that lost
	// its quotes.
	rest := backticked.ReplaceAllString(cell, "")
	for _, w := range strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '(' || r == ')' }) {
		if testRef.MatchString(w) {
			problems = append(problems, fmt.Sprintf("%s: %s is not in backticks", id, w))
		}
	}
	return problems
}

// testPkg is what the test files of one directory declare.
type testPkg struct {
	funcs   map[string]bool // Test, Example and Fuzz functions
	strings map[string]bool // string literals, also with spaces as "_"
	err     error
}

func parseTestPkg(dir string) *testPkg {
	p := &testPkg{funcs: map[string]bool{}, strings: map[string]bool{}}
	names, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err == nil && len(names) == 0 {
		err = fmt.Errorf("no *_test.go files in %s", dir)
	}
	if err != nil {
		p.err = err
		return p
	}
	fset := token.NewFileSet()
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			p.err = err
			return p
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				p.funcs[fd.Name.Name] = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					p.strings[s] = true
					p.strings[strings.ReplaceAll(s, " ", "_")] = true
				}
			}
			return true
		})
	}
	return p
}

// declFile is what one Go file declares at top level: functions, types,
// variables and constants by name, methods and struct fields as
// Type.Name.
type declFile struct {
	path  string
	decls map[string]bool
	err   error
}

func parseDecls(name string) *declFile {
	df := &declFile{decls: map[string]bool{}}
	f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
	if err != nil {
		df.err = err
		return df
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) == 0 {
				df.decls[d.Name.Name] = true
				continue
			}
			typ := d.Recv.List[0].Type
			if s, ok := typ.(*ast.StarExpr); ok {
				typ = s.X
			}
			if ix, ok := typ.(*ast.IndexExpr); ok {
				typ = ix.X
			}
			if id, ok := typ.(*ast.Ident); ok {
				df.decls[id.Name+"."+d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					df.decls[s.Name.Name] = true
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, fld := range st.Fields.List {
							for _, n := range fld.Names {
								df.decls[s.Name.Name+"."+n.Name] = true
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						df.decls[n.Name] = true
					}
				}
			}
		}
	}
	return df
}
