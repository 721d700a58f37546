package r3

import (
	"net/url"
	"strings"
)

// The seven standard vocabularies of R3 -02 (§Standard Vocabularies). R3
// -02 removed urn:aauth:vocabulary:openapi-gateway; it is now an unknown
// vocabulary like any other unregistered name in the namespace.
const (
	VocabularyMCP      = "urn:aauth:vocabulary:mcp"
	VocabularyOpenAPI  = "urn:aauth:vocabulary:openapi"
	VocabularyGRPC     = "urn:aauth:vocabulary:grpc"
	VocabularyGraphQL  = "urn:aauth:vocabulary:graphql"
	VocabularyAsyncAPI = "urn:aauth:vocabulary:asyncapi"
	VocabularyWSDL     = "urn:aauth:vocabulary:wsdl"
	VocabularyOData    = "urn:aauth:vocabulary:odata"
)

// standardPrefix is the namespace of the vocabularies R3 registers.
const standardPrefix = "urn:aauth:vocabulary:"

// vocabFields lists, per standard vocabulary, the operation members R3
// defines, in the order this package writes them, and which of them
// identify the operation.
var vocabFields = map[string][]fieldSpec{
	VocabularyMCP:      {{name: "tool", required: true}},
	VocabularyOpenAPI:  {{name: "operationId", required: true}},
	VocabularyGRPC:     {{name: "method", required: true}},
	VocabularyGraphQL:  {{name: "operation", required: true}, {name: "type", required: true}},
	VocabularyAsyncAPI: {{name: "operationId", required: true}, {name: "action"}},
	VocabularyWSDL:     {{name: "operation", required: true}, {name: "service"}},
	VocabularyOData:    {{name: "operation", required: true}, {name: "methods", list: true}},
}

type fieldSpec struct {
	name     string
	required bool
	list     bool // an array of strings (OData methods)
}

// IsStandard reports whether v is one of the seven vocabularies R3 -02
// defines.
func IsStandard(v string) bool {
	_, ok := vocabFields[v]
	return ok
}

// CheckVocabulary reports whether v may name a vocabulary: a standard one,
// or a third-party URI outside the urn:aauth:vocabulary: namespace (R3
// §Resource Metadata Extensions: "third-party URI namespaces for
// proprietary vocabularies"). An unregistered name inside the namespace,
// such as the removed openapi-gateway, gives ErrUnknownVocabulary; a value
// that is not an absolute URI gives ErrInvalid.
func CheckVocabulary(v string) error {
	return checkVocabulary(v, "vocabulary")
}

func checkVocabulary(v, path string) error {
	if v == "" {
		return errAt(CodeInvalid, path, "empty")
	}
	if len(v) > MaxIdentifierLen {
		return errAt(CodeTooLarge, path, "")
	}
	if IsStandard(v) {
		return nil
	}
	if strings.HasPrefix(strings.ToLower(v), standardPrefix) {
		return &Error{Code: CodeUnknownVocabulary, Path: path}
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || (u.Opaque == "" && u.Host == "" && u.Path == "") {
		return errAt(CodeInvalid, path, "not an absolute URI")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] == 0x7f {
			return errAt(CodeInvalid, path, "not an absolute URI")
		}
	}
	return nil
}
