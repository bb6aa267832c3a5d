// Generated from internal/apierror (Catalog) by TestSDKCatalogsAreGenerated;
// do not edit. Regenerate: AYB_UPDATE_SDK=1 go test ./internal/apierror

/** AYB's error codes and the HTTP status each answers with. Errors raised by
 * PostgreSQL carry their SQLSTATE (e.g. "23505") as the code instead. */
export const errorCodes = {
  already_exists: 409,
  api_key_expired: 401,
  api_key_invalid: 401,
  api_key_revoked: 401,
  bad_request: 400,
  body_too_large: 413,
  conflict: 409,
  email_not_verified: 403,
  forbidden: 403,
  insufficient_scope: 403,
  internal_error: 500,
  invalid_credentials: 401,
  invalid_json: 400,
  invalid_link: 400,
  invalid_token: 401,
  method_not_allowed: 405,
  not_found: 404,
  oauth_failed: 400,
  rate_limited: 429,
  service_unavailable: 503,
  timeout: 504,
  unauthorized: 401,
  unsupported_media_type: 415,
  user_banned: 403,
  validation_failed: 400,
  weak_password: 400,
} as const;

/** One of AYB's own error codes. */
export type ErrorCode = keyof typeof errorCodes;
