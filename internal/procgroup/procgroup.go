// Package procgroup starts test helper processes so that none outlives
// the test binary, and stops them with everything they spawned: the child
// processes of the stores' tests (internal/storetest) and the node
// processes of the interop suite. It imports nothing of this module.
package procgroup
