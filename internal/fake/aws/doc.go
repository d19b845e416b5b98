// Package aws is a strict, in-process fake of the parts of AWS Secrets
// Manager that runnerctl uses: GetSecretValue, CreateSecret, PutSecretValue
// and DescribeSecret, spoken over the AWS JSON 1.1 protocol (POST /,
// X-Amz-Target: secretsmanager.<Operation>, Content-Type
// application/x-amz-json-1.1) and authenticated with Signature Version 4.
//
// It is meant for unit tests and testscript end-to-end tests. Point the AWS
// SDK at it with the variables of Env (AWS_ENDPOINT_URL_SECRETS_MANAGER and
// static keys). It rejects what Secrets Manager rejects, with the error
// shapes Secrets Manager sends, so that tests prove the client handles them;
// and it can inject faults (errors, delays) per operation.
//
// # Strictness
//
//   - Every request must be signed with AWS4-HMAC-SHA256. The signature is
//     recomputed here from the canonical request (an implementation
//     independent of the SDK's signer, so that a signing bug is not hidden by
//     the same code on both ends). A missing Authorization header gives
//     MissingAuthenticationTokenException, an unknown access key
//     UnrecognizedClientException, a wrong secret key or tampered request
//     InvalidSignatureException, a clock skew over 15 minutes
//     InvalidSignatureException ("Signature expired"), a key marked expired
//     ExpiredTokenException; all with HTTP 400, as JSON-protocol services
//     answer.
//   - Credentials carry an Access level; an operation the level does not
//     allow gives AccessDeniedException with IAM's message shape.
//   - Unknown request members are rejected with SerializationException
//     (a strictness choice of this fake: it catches client typos).
//   - Missing or empty required members give ValidationException with the
//     "1 validation error detected: ..." message; invalid names
//     InvalidParameterException; a CreateSecret or PutSecretValue with a value
//     but without ClientRequestToken InvalidRequestException, as the real
//     service does (the SDKs fill it in; raw clients must).
//
// # What was checked, and where
//
// Read through the search tool (docs and issues corpora):
//
//   - AWS Secrets Manager API reference, Common Errors: AccessDeniedException,
//     IncompleteSignature, InvalidClientTokenId, InternalFailure (500),
//     InternalServiceError, ThrottlingException, ValidationError, and their
//     status codes.
//   - API reference of GetSecretValue (errors DecryptionFailure,
//     InternalServiceError, InvalidParameterException,
//     InvalidRequestException (secret scheduled for deletion),
//     ResourceNotFoundException), APIErrorType.
//   - CreateSecret and PutSecretValue ClientRequestToken semantics: a token
//     not yet used creates a version; the same token with the same value is
//     ignored (idempotent); the same token with a different value fails,
//     since versions are immutable. Length 32 to 64.
//   - getmoto/moto#9700 and #9741 (validated against AWS): CreateSecret on an
//     existing name with a different token gives ResourceExistsException
//     "The operation failed because the secret NAME already exists."
//   - localstack/localstack#6530 and aws-ia/terraform-aws-eks-blueprints#1733:
//     creating a name scheduled for deletion gives InvalidRequestException
//     "You can't create this secret because a secret with this name is
//     already scheduled for deletion."
//   - localstack/localstack#8308 and aws/aws-sdk-js-v3#4640: a value without
//     ClientRequestToken gives InvalidRequestException "You must provide a
//     ClientRequestToken value. We recommend a UUID-type value."
//   - boto/boto3#2794: GetSecretValue on a secret without an AWSCURRENT
//     version gives ResourceNotFoundException (misleadingly).
//   - external-secrets providers/v1/aws/secretsmanager: ESO reads the
//     AWSCURRENT version, SecretBinary when set else SecretString, and a
//     property with gjson (a literal top-level key with dots is escaped).
//   - smithy-go transport/http/protocol/awsjson: the client takes the error
//     code from X-Amzn-ErrorType or __type and strips "namespace#" and
//     ":uri" parts, so both shapes below are understood.
//
// Not checked against the live service (assumed, kept plausible): the exact
// wording of the ValidationException and SerializationException messages,
// the message of PutSecretValue with neither SecretString nor SecretBinary,
// and the message when an existing version's token is reused with another
// value.
package aws
