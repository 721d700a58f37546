// Package filestore keeps the tokens an agent obtains in files, so that
// they outlive the process: a command run twice, or an agent restarted,
// presents the token it already has instead of asking its person server
// (and maybe its person) again. A *Store is an aauth.TokenCache for one
// machine; several processes may share it.
//
//	store, err := filestore.Open("", filestore.Options{})
//	if err != nil { … }
//	client := (&aauth.Transport{Keys: keys, PersonServer: ps, Tokens: store}).Client()
//
// # Layout
//
// The store lives in a directory, by default the user's state directory
// (see DefaultDir): $XDG_STATE_HOME/aauth, else ~/.local/state/aauth.
// Its files are in a subdirectory, tokens, so that other state can sit
// beside them:
//
//	<dir>/                 0700 when the store creates it
//	<dir>/tokens/          0700, owned by the user (Open tightens a looser mode, refuses another owner)
//	<dir>/tokens/.lock     0600, empty: the lock every write and delete takes
//	<dir>/tokens/H.json    0600, one token entry
//	<dir>/tokens/H.lock    0600, empty: held while a process fetches the token of H
//
// H is the hex SHA-256 of the cache key, never the key itself: keys hold
// URLs. An entry is a JSON envelope with a format marker
// ("aauth-token/1"), the cache key, the token (value, expires_in, expiry)
// and until, when the store drops it: the token's expiry, or for a token
// without one (a session token) the time it was stored plus
// Options.DefaultTTL. Entries are written to a temporary file in the same
// directory and renamed over the old one (github.com/google/renameio), so
// a reader sees the old entry or the new one, never a part.
//
// # Sharing
//
// Reads take no lock. Writes, deletes and pruning take <dir>/tokens/.lock
// (an flock, github.com/gofrs/flock), so a process never deletes an entry
// another has just written. LockToken holds the entry's own lock file for
// as long as a fetch runs: a Transport that uses the store fetches each
// token once even when several processes on the machine go cold together.
// The kernel releases the lock of a process that dies.
//
// # What is not ours
//
// A file where an entry should be that is not one (not JSON, another
// format version, another key, not a regular file) is never trusted,
// overwritten or deleted: Token reports a miss, SetToken and DeleteToken
// return an error matching ErrForeign, and each time an event
// (StepSkipped) names the file. Delete it to let the store use that entry
// again. Expired entries are removed by Prune, which Open runs and
// SetToken repeats at most hourly.
//
// Token values never appear in errors, events or logs.
package filestore
