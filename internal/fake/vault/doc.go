// Package vault is a strict, in-process fake of the parts of the HashiCorp
// Vault HTTP API that runnerctl uses: token look-up, AppRole login, the
// capabilities of a token on a path, the UI's mount preflight, and the KV
// version 2 (and, to prove runnerctl refuses it, version 1) secrets engine.
//
// It is meant for unit tests. It rejects what Vault rejects, with the status
// codes and {"errors":[...]} bodies Vault sends, so that tests prove the
// client handles them; and it can inject faults (errors, delays, a
// concurrent change) per operation.
//
// # What was checked, and where
//
// Read through the search tool (code, issues and docs corpora):
//
//   - hashicorp/vault-plugin-secrets-kv path_data.go: a read of a missing
//     key returns nil (Vault answers 404 {"errors":[]}); a read of a version
//     that is deleted or destroyed answers 404 with the full envelope, data
//     null and the version's metadata; a write without "data" is 400 "no data
//     provided"; options.cas must equal the key's current_version (0 when
//     the key does not exist), else 400 "check-and-set parameter did not
//     match the current version"; a write answers the new version's
//     metadata (version, created_time, deletion_time "", destroyed,
//     custom_metadata). The data path's existence check makes a write to a
//     missing key need "create", to an existing one "update".
//   - hashicorp/vault vault/logical_system.go pathInternalUIMountRead: an
//     unknown mount, or one the token has no capability under, is 403 with
//     "preflight capability check returned 403, please ensure client's
//     policies grant access to path \"<mount>/\"" (deliberately the same
//     answer, so mounts cannot be enumerated; hashicorp/vault#11434 confirms
//     even a root token gets 403 for an unknown mount); a known mount answers
//     mountInfo plus "path" ("secret/").
//   - Vault API docs /sys/capabilities: POST with "paths"; the answer maps
//     each path to its capabilities and, for a single path, also has
//     "capabilities". A path with no capability is ["deny"], a root token
//     has ["root"].
//   - hashicorp/vault issues (#1436, #2774, suxess-it/kubriX#664): a path
//     under no mount is 404 {"errors":["no handler for route \"<path>\".
//     route entry not found."]} once the ACL allows it; ACLs are checked
//     first, so a token without a policy for the path gets 403.
//   - The Vault API client (api v1.23.0, response.go): error bodies are
//     {"errors":[...]}; a missing or unknown X-Vault-Token is 403 {"errors":
//     ["permission denied"]} (Vault answers 403, not 401, for bad tokens).
//   - AppRole login (several client test suites that were run against Vault,
//     e.g. ones asserting Vault's own message): wrong role_id or secret_id is
//     400 {"errors":["invalid role or secret ID"]}; the answer's auth block
//     carries client_token, accessor, policies, lease_duration, renewable.
//   - hashicorp/vault-client-go#246: the envelope of reads (request_id,
//     lease_id, renewable, lease_duration, data, wrap_info, warnings, auth).
//
// Not verified (behaviour chosen, kept plausible): the exact body of a
// missing role_id ("missing role_id", 400), the answer to an unknown auth
// mount (403 permission denied, as for any unauthenticated path), how a
// namespace mismatch shows (403 permission denied: tokens live in their
// namespace), and the bodies a proxy in front of Vault sends for 502/504.
// ACL matching implements exact paths, "*" prefix globs and "+" segment
// wildcards with a simplified priority (exact, then the rule whose first
// wildcard comes latest, then the longer rule), not every tie-break of
// Vault's documented priority rules.
package vault
