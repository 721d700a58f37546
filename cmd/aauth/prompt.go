package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/aauthgo/aauth"
)

// prompter is the person's side of the terminal: it shows where to approve
// a request and asks the person server's questions.
type prompter struct {
	mu sync.Mutex // one prompt at a time
	w  io.Writer  // stderr
	in *lineReader

	// then, when set, runs after an interaction is shown (the demo
	// approves there on the person's behalf).
	then func(ctx context.Context, url, code string) error
}

// interaction shows the URL and code the person must visit. Polling goes
// on meanwhile; the person approves in the browser.
func (p *prompter) interaction(ctx context.Context, u, code string) error {
	p.mu.Lock()
	u, code = oneLine(u), oneLine(code)
	fmt.Fprintf(p.w, "interaction: %s %s\n", u, code)
	fmt.Fprintf(p.w, "  To continue, open %s in a browser and approve the request there. Waiting…\n", withCode(u, code))
	p.mu.Unlock()
	if p.then != nil {
		return p.then(ctx, u, code)
	}
	return nil
}

// withCode returns the interaction URL with the code as its code query
// parameter, the page the person opens.
func withCode(u, code string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "code=" + url.QueryEscape(code)
}

// clarify asks the person server's question on the terminal and reads the
// answer, a line, from stdin. A number picks one of the offered options.
func (p *prompter) clarify(ctx context.Context, q aauth.Clarification) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, "clarification: the person server asks:")
	for _, line := range strings.Split(strings.TrimSpace(q.Question), "\n") {
		fmt.Fprintf(p.w, "  %s\n", oneLine(line))
	}
	for i, opt := range q.Options {
		fmt.Fprintf(p.w, "  %d) %s\n", i+1, oneLine(opt))
	}
	for {
		fmt.Fprint(p.w, "answer> ")
		line, err := p.in.readLine(ctx)
		if err != nil {
			fmt.Fprintln(p.w)
			if errors.Is(err, io.EOF) {
				return "", errors.New("no answer: stdin is closed")
			}
			return "", err
		}
		answer := strings.TrimSpace(line)
		if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(q.Options) {
			answer = q.Options[n-1]
		}
		if answer != "" {
			return answer, nil
		}
	}
}

// lineReader reads lines from stdin without letting a blocked read hold up
// a cancelled context: the read runs in a goroutine, and a read abandoned
// by one call hands its line to the next.
type lineReader struct {
	mu      sync.Mutex
	r       *bufio.Reader
	pending chan lineResult // the read in flight, if any
}

type lineResult struct {
	line string
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	if r == nil {
		r = strings.NewReader("")
	}
	return &lineReader{r: bufio.NewReader(r)}
}

// readLine returns the next line without its end, or io.EOF when there is
// none, or ctx's error.
func (l *lineReader) readLine(ctx context.Context) (string, error) {
	l.mu.Lock()
	ch := l.pending
	if ch == nil {
		// Buffered, so the reader never blocks on the send.
		ch = make(chan lineResult, 1)
		l.pending = ch
		go func() {
			s, err := l.r.ReadString('\n')
			if err == io.EOF && s != "" {
				err = nil
			}
			ch <- lineResult{strings.TrimRight(s, "\r\n"), err}
		}()
	}
	l.mu.Unlock()
	select {
	case res := <-ch:
		l.mu.Lock()
		l.pending = nil
		l.mu.Unlock()
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
