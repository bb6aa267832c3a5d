import { errorCodes, type ErrorCode } from "./codes.js";

/**
 * The one error every failed call throws: the server's
 * `{code, message, details, hint}` with the HTTP status. `status` is 0 when
 * the request never got an answer (network error, abort); `code` is then
 * "network_error".
 */
export class ApiError extends Error {
  readonly status: number;
  /** One of {@link errorCodes}, or a PostgreSQL SQLSTATE such as "23505". */
  readonly code: ErrorCode | (string & {});
  readonly details: unknown;
  readonly hint: string;

  constructor(status: number, code: string, message: string, details: unknown = null, hint = "") {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
  }

  /** Whether the code is one of AYB's own (not an SQLSTATE). */
  get known(): boolean {
    return Object.prototype.hasOwnProperty.call(errorCodes, this.code);
  }

  /** Builds the error from a response whose status is not 2xx. */
  static async fromResponse(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => "");
    try {
      const b = JSON.parse(text) as { code?: unknown; message?: unknown; details?: unknown; hint?: unknown };
      if (b && typeof b.code === "string") {
        return new ApiError(res.status, b.code, typeof b.message === "string" ? b.message : res.statusText,
          b.details ?? null, typeof b.hint === "string" ? b.hint : "");
      }
    } catch {
      // not JSON: a proxy's page, say
    }
    return new ApiError(res.status, res.status >= 500 ? "internal_error" : "bad_request",
      text.slice(0, 200) || res.statusText || `HTTP ${res.status}`);
  }

  /** Wraps a failure to get any answer. */
  static network(cause: unknown): ApiError {
    const msg = cause instanceof Error ? cause.message : String(cause);
    const e = new ApiError(0, "network_error", "no answer from the server: " + msg);
    (e as { cause?: unknown }).cause = cause;
    return e;
  }
}
