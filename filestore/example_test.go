package filestore_test

import (
	"crypto/ed25519"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/filestore"
)

// An agent that keeps its tokens between runs: the second run presents the
// auth token the first one obtained.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "aauth-example")
	defer os.RemoveAll(dir)

	// Open("") would use the user's state directory, ~/.local/state/aauth.
	store, err := filestore.Open(filepath.Join(dir, "state"), filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil) // your agent's key, and its agent token below
	transport := &aauth.Transport{
		Keys:         aauth.StaticKeys(key, aauth.JWT("eyJ…")),
		PersonServer: "https://ps.example",
		Tokens:       store,
	}
	_ = transport.Client()
	fmt.Println(filepath.Base(store.Dir()))
	// Output: state
}
