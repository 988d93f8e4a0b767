/// The OpenAPI 3.1 description of the board API, served at `/api/v1/openapi.json`.
///
/// The document lives in `Resources/openapi.json` and is embedded in the binary, so an installed `pier` needs no
/// resource files. Tests validate it with OpenAPIKit and openapi-spec-validator and check that it names every
/// route, and `scripts/schemathesis` checks the running server against it.
enum OpenAPIDocument {
    static let json = String(decoding: PackageResources.openapi_json, as: UTF8.self)
}
