// Package infisical is a strict, in-process fake of the parts of the
// Infisical REST API that runnerctl uses: universal auth login for machine
// identities, project look-up by slug, folders, and the v3 "raw" secret
// endpoints (read, create, update one secret by name).
//
// It is meant for unit tests. It rejects what Infisical rejects, with the
// status codes and JSON error bodies Infisical sends ({"reqId",
// "statusCode", "message", "error"}), so that tests prove the client handles
// them; and it can inject faults (errors, delays, a concurrent change) per
// operation.
//
// # What was checked, and where
//
// Read through the search tool in Infisical/infisical (backend/src) and
// Infisical/go-sdk, and in external-secrets/external-secrets
// (providers/v1/infisical):
//
//   - server/plugins/error-handler.ts: BadRequestError 400, NotFoundError
//     404, UnauthorizedError 401, ForbiddenRequestError 403 (with details),
//     CASL ForbiddenError 403 {"error":"PermissionDenied","message":"You are
//     not allowed to <action> on <subject>"}, zod errors 422
//     {"error":"ValidationFailure","message":[issues]}, JWT errors 403
//     {"error":"TokenError"} ("The provided access token is malformed...",
//     "Your token has expired. Please re-authenticate."), anything else 500
//     "Something went wrong". lib/errors: default names "BadRequest",
//     "NotFound", "UnauthorizedError", "ForbiddenError".
//   - server/plugins/auth/verify-auth.ts: no Authorization header is 401
//     "Token missing".
//   - routes/v1/identity-universal-auth-router.ts and
//     services/identity-ua/identity-ua-service.ts: POST
//     /api/v1/auth/universal-auth/login {clientId, clientSecret} answers
//     {accessToken, expiresIn, accessTokenMaxTTL, tokenType:"Bearer"}; an
//     unknown client ID or a wrong secret is 401 "Invalid credentials".
//   - routes/v1/project-router.ts: GET /api/v1/projects/slug/:slug answers
//     the project with its environments [{id, name, slug}] (not wrapped);
//     project-dal findProjectBySlug: an unknown slug is 404 "Project with
//     slug '<slug>' not found"; permission-service: an identity that is not
//     a member is 403 with error "Identity is not a member of the specified
//     project with ID '<id>'".
//   - routes/v1/secret-folder-router.ts and services/secret-folder: GET
//     /api/v1/folders?workspaceId&environment&path lists the child folders
//     ({"folders":[...]}, [] when the path does not exist; an unknown
//     environment is 404 "Environment with slug '<env>' not found"); POST
//     /api/v1/folders {workspaceId, environment, name, path} creates one
//     folder (current versions also create missing parents), an existing
//     one is 400 "Folder with name '<name>' already exists in path
//     '<path>'". Folder names are letters, digits, "-" and "_".
//   - routes/v3/secret-router.ts and services/secret-v2-bridge: GET
//     /api/v3/secrets/raw/:secretName takes workspaceId or workspaceSlug,
//     environment, secretPath (default "/", trailing slash removed), type
//     (default shared); no environment is 400 "Missing environment", no
//     project 400 "You must provide workspaceSlug or workspaceId"; a missing
//     folder is 404 "Folder with path '<path>' in environment with slug
//     '<env>' not found" (error "GetSecretByName"), a missing secret 404
//     "Secret with name '<name>' not found". POST and PATCH take workspaceId
//     or projectSlug in the body; create in a missing folder is 404 (error
//     "CreateSecret"), an existing secret 400 "Secret already exist"; update
//     of a missing secret is 404 "Secret with name <name> not found".
//     Values are trimmed (a trailing newline is kept).
//   - services/secret/secret-service.ts createSecretRaw: secret approval
//     policies apply to users only, so a machine identity's writes are
//     never turned into approval requests; this fake has none.
//   - external-secrets providers/v1/infisical: ESO reads with workspaceSlug
//     and resolves the project ID for writes (the write endpoints of some
//     versions need it), which is what runnerctl does too.
//
// Roles are a simplification of Infisical's: admin and member may do
// everything runnerctl does, viewer may read secrets and list folders,
// no-access is a member without permissions.
//
// Not verified (behaviour chosen, kept plausible): the body of a 429 (the
// shape of @fastify/rate-limit's default answer here), what a proxy in
// front of Infisical sends for 502/503/504 (an HTML page here), the exact
// zod issue text of 422 answers, and the message of a permission error on
// folder listing.
package infisical
