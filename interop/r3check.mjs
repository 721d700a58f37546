// r3check.mjs: run @hellocoop/mockin 2.0.0's own R3 document checks on
// documents the Go side wrote. Input (stdin): one JSON array of base64
// strings, each the bytes of one document. Output (stdout): one JSON line
// per document, {s256, error, proposal}: mockin's SHA-256 of the bytes,
// the message validateR3Document returns (null when valid), and whether
// it reads the document as a per-call proposal. Used by r3_mockin_test.go.
import { validateR3Document, sha256B64url, isPerCallProposal } from '@hellocoop/mockin/src/aauth/r3.js'

let input = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) input += chunk
for (const b64 of JSON.parse(input)) {
    const bytes = Buffer.from(b64, 'base64')
    const out = { s256: sha256B64url(bytes), error: null, proposal: false }
    try {
        // mockin reads fetched bytes with bytes.toString('utf8') + JSON.parse.
        const doc = JSON.parse(bytes.toString('utf8'))
        out.error = validateR3Document(doc)
        out.proposal = isPerCallProposal(doc)
    } catch (e) {
        out.error = 'not JSON: ' + e.message
    }
    process.stdout.write(JSON.stringify(out) + '\n')
}
