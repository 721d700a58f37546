// Package r3 reads and writes AAuth Rich Resource Requests (R3, draft
// -02): per-operation authorization in a vocabulary the agent already
// speaks — for an MCP server, its tool names (urn:aauth:vocabulary:mcp).
//
// A resource describes what it offers in content-addressed R3 documents;
// an auth token then grants some operations outright (r3_granted) and some
// only per call (r3_per_call); a per-call operation is challenged with a
// proposal, an R3 document carrying that one call's parameters. This
// package holds the parts both ends share, with no network and no keys:
//
//   - Document, Parse and Encode: the R3 document and per-call proposal,
//     read strictly but keeping what it does not know, and written once
//     as the bytes a resource serves and hashes (r3_s256, see S256 and
//     Verify);
//   - Select and Compose: the one document a resource token references
//     when the requested operations span several definitions;
//   - NewProposal and MatchParameters: a per-call proposal from a call's
//     arguments, and the check that a retried call is the one approved;
//   - OperationSet, Grant and Decide: the r3_operations request and the
//     auth token's grant claims, and what a resource does with a call
//     under them (serve, challenge per call, refuse);
//   - MCPClassifier: what an MCP request body asks for (a tools/call, which
//     tool, its arguments), from the bytes, so neither an agent nor a
//     resource consumes the caller's body;
//   - EffectiveAccess, MCPToolAccess and ParseVocabularies: the advisory
//     per-operation annotations and r3_vocabularies metadata an agent
//     plans with;
//   - ParseBudget: the AAuth-Budget response header of the Budgets draft.
//
// Everything a peer sends is bounded (see MaxDocumentSize and the other
// limits) and refused with an *Error or *BudgetError whose message names
// where the problem is, never the peer's values.
//
// The package imports nothing else of this module.
package r3
