// Package gcp is a strict, in-process fake of the parts of the Google Cloud
// Secret Manager REST API (v1) that runnerctl uses, plus the two places
// Application Default Credentials get tokens from: an OAuth 2.0 token
// endpoint for service-account keys (the JWT bearer grant) and a GCE
// metadata server.
//
// Served:
//
//	GET  /v1/projects/{project}/secrets/{secret}                         projects.secrets.get
//	POST /v1/projects/{project}/secrets?secretId={secret}                projects.secrets.create
//	POST /v1/projects/{project}/secrets/{secret}:addVersion              projects.secrets.addVersion
//	GET  /v1/projects/{project}/secrets/{secret}/versions/{v}:access     projects.secrets.versions.access
//	POST /token                                                          OAuth 2.0 token (jwt-bearer)
//	GET  /computeMetadata/v1/...                                         metadata server (token, project-id)
//
// {project} may be the project ID or its number; names in answers use the
// number, as Secret Manager does. Every API call needs "Authorization:
// Bearer TOKEN" with a token the fake issued or was given (AddToken), and a
// token's Role decides what it may do. Errors are Google's JSON error
// bodies: {"error":{"code":404,"message":"...","status":"NOT_FOUND"}}.
//
// # What was checked, and where
//
// Read through the search tool (docs corpus): the Secret Manager REST
// reference pages for projects.secrets.create (parent, secretId query
// parameter: at most 255 characters of letters, digits, - and _; body a
// Secret with replication), projects.secrets.addVersion,
// projects.secrets.versions.access ("latest" is an alias of the most
// recently created version; response {name, payload{data, dataCrc32c}}) and
// the SecretVersion resource (state, etag, clientSpecifiedPayloadChecksum,
// IDs counting from 1). The OAuth scope is
// https://www.googleapis.com/auth/cloud-platform. The token endpoint and the
// JWT claims (iss, scope, aud = token_uri, iat, exp; RS256 with kid) follow
// golang.org/x/oauth2's google and jwt packages, which ADC uses; the
// metadata paths and the Metadata-Flavor header follow
// cloud.google.com/go/compute/metadata.
//
// Error texts follow what Secret Manager and Google's front end are known to
// answer: "Secret [projects/N/secrets/S] not found or has no versions.",
// "Secret [projects/N/secrets/S] already exists." (409 ALREADY_EXISTS),
// "Permission 'secretmanager.secrets.get' denied for resource
// 'projects/P/secrets/S' (or it may not exist).", "Permission denied on
// resource project P." (403, reason CONSUMER_INVALID), and the 401 "Request
// had invalid authentication credentials. ..." text. Not checked against the
// live service (plausible, marked as such in the code): the exact wording of
// INVALID_ARGUMENT messages for a bad secret ID, a missing replication, an
// oversized payload and a checksum mismatch.
package gcp
