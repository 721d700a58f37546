package psclient

// Hooks for the external tests (package psclient_test), which sign their
// requests with the root package's SigningTransport and so cannot live in
// this package.

// DefaultMetadataCache is the cache of the exchanges that name none.
var DefaultMetadataCache = &defaultMetadataCache

// MaxClarificationRounds is how many questions one deferred request may ask.
const MaxClarificationRounds = maxClarificationRounds
