package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPIJSON describes the native API; served at /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPIJSON []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPIJSON)
}
