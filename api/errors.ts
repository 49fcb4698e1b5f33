/**
 * Typed errors shared by every part of Skiff. Each one knows the HTTP status
 * code and Kubernetes `reason` it maps to, so the API server turns any of them
 * into a Kubernetes `Status` object in one place, and the client turns a
 * `Status` back into the same class.
 *
 * @module
 */

import type { Status, StatusCause, StatusDetails } from "./meta.ts";

/** The Kubernetes `StatusReason` values that Skiff uses. */
export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Expired"
  | "Invalid"
  | "RequestEntityTooLarge"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "TooManyRequests"
  | "Timeout"
  | "ServiceUnavailable"
  | "InternalError";

/** Options accepted by every {@linkcode ApiError}. */
export interface ApiErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Extra details for the `Status` object (name, group, kind, causes). */
  details?: StatusDetails;
}

/**
 * Base class of every error that maps to a Kubernetes `Status`. Catch a
 * subclass to handle one case; catch `ApiError` to handle any API failure.
 */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly code: number;
  /** The Kubernetes `reason` for the `Status` object. */
  readonly reason: StatusReason;
  /** Details for the `Status` object. */
  readonly details: StatusDetails | undefined;

  /** Creates an error with an explicit code and reason. */
  constructor(
    code: number,
    reason: StatusReason,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
    this.details = options.details;
  }

  /** The Kubernetes `Status` object for this error. */
  toStatus(): Status {
    const status: Status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details && Object.keys(this.details).length > 0) {
      status.details = this.details;
    }
    return status;
  }
}

/** 400: the request itself is malformed (bad JSON, bad query parameter). */
export class BadRequestError extends ApiError {
  /** Creates a BadRequest error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(400, "BadRequest", message, options);
    this.name = "BadRequestError";
  }
}

/** 401: no credentials, or credentials that do not match anyone. */
export class UnauthorizedError extends ApiError {
  /** Creates an Unauthorized error. */
  constructor(message = "Unauthorized", options?: ApiErrorOptions) {
    super(401, "Unauthorized", message, options);
    this.name = "UnauthorizedError";
  }
}

/** 403: the caller is known but may not do this. */
export class ForbiddenError extends ApiError {
  /** Creates a Forbidden error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(403, "Forbidden", message, options);
    this.name = "ForbiddenError";
  }
}

/** 404: the object (or key) does not exist. */
export class NotFoundError extends ApiError {
  /** Creates a NotFound error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(404, "NotFound", message, options);
    this.name = "NotFoundError";
  }
}

/** 409: the object (or key) exists already. */
export class AlreadyExistsError extends ApiError {
  /** Creates an AlreadyExists error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(409, "AlreadyExists", message, options);
    this.name = "AlreadyExistsError";
  }
}

/**
 * 409: a compare-and-swap failed because the object changed since the caller
 * read it. Read again and retry.
 */
export class ConflictError extends ApiError {
  /** Creates a Conflict error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(409, "Conflict", message, options);
    this.name = "ConflictError";
  }
}

/**
 * 410: the requested revision has been compacted away. Watchers and
 * paginated lists must start again from a fresh list.
 */
export class CompactedError extends ApiError {
  /** The oldest revision still available when the error was raised. */
  readonly compactRevision: number;

  /** Creates a Gone error for a compacted revision. */
  constructor(
    message: string,
    options: ApiErrorOptions & { compactRevision?: number } = {},
  ) {
    super(410, "Expired", message, options);
    this.name = "CompactedError";
    this.compactRevision = options.compactRevision ?? 0;
  }
}

/** 413: the request body is larger than the server accepts. */
export class TooLargeError extends ApiError {
  /** Creates a RequestEntityTooLarge error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(413, "RequestEntityTooLarge", message, options);
    this.name = "TooLargeError";
  }
}

/** 405: the resource does not support this verb. */
export class MethodNotAllowedError extends ApiError {
  /** Creates a MethodNotAllowed error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(405, "MethodNotAllowed", message, options);
    this.name = "MethodNotAllowedError";
  }
}

/** 415: the request body has a content type the endpoint does not read. */
export class UnsupportedMediaTypeError extends ApiError {
  /** Creates an UnsupportedMediaType error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(415, "UnsupportedMediaType", message, options);
    this.name = "UnsupportedMediaTypeError";
  }
}

/** 406: the client accepts no representation the server can produce. */
export class NotAcceptableError extends ApiError {
  /** Creates a NotAcceptable error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(406, "NotAcceptable", message, options);
    this.name = "NotAcceptableError";
  }
}

/** 429: the caller should slow down and retry later. */
export class TooManyRequestsError extends ApiError {
  /** Creates a TooManyRequests error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(429, "TooManyRequests", message, options);
    this.name = "TooManyRequestsError";
  }
}

/** 503: a dependency (the store, a node agent) cannot serve right now. */
export class ServiceUnavailableError extends ApiError {
  /** Creates a ServiceUnavailable error. */
  constructor(message: string, options?: ApiErrorOptions) {
    super(503, "ServiceUnavailable", message, options);
    this.name = "ServiceUnavailableError";
  }
}

/** One field that failed validation: its path, and what is wrong with it. */
export interface FieldError {
  /** JSON path of the field, e.g. `spec.containers[0].image`. */
  field: string;
  /** Kubernetes cause type: FieldValueRequired, FieldValueInvalid, … */
  type:
    | "FieldValueRequired"
    | "FieldValueInvalid"
    | "FieldValueNotSupported"
    | "FieldValueDuplicate"
    | "FieldValueForbidden"
    | "FieldValueTooLong"
    | "FieldValueTypeInvalid"
    | "FieldValueNotFound"
    | "FieldValueTooMany"
    | "FieldValueUnknown";
  /** Human-readable reason. */
  message: string;
}

/**
 * 422: the object failed validation. `causes` lists every field at fault, so
 * a user sees all problems at once.
 */
export class InvalidError extends ApiError {
  /** The fields at fault. */
  readonly causes: readonly FieldError[];

  /**
   * Creates an Invalid error for `kind` named `name`.
   *
   * @example
   * ```ts
   * throw new InvalidError("Pod", "web", [
   *   { field: "spec.containers", type: "FieldValueRequired", message: "Required value" },
   * ]);
   * ```
   */
  constructor(
    kind: string,
    name: string,
    causes: readonly FieldError[],
    options: { group?: string; cause?: unknown } = {},
  ) {
    const summary = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
    const group = options.group ?? "";
    super(
      422,
      "Invalid",
      `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${summary}`,
      {
        cause: options.cause,
        details: {
          name,
          group,
          kind,
          causes: causes.map((c): StatusCause => ({
            reason: c.type,
            message: c.message,
            field: c.field,
          })),
        },
      },
    );
    this.name = "InvalidError";
    this.causes = causes;
  }
}

/**
 * Rebuilds the typed error for a `Status` object received from a server, so
 * callers catch the same classes in and out of process.
 */
export function errorFromStatus(status: Partial<Status>): ApiError {
  const message = status.message ?? status.reason ?? "Unknown error";
  const options: ApiErrorOptions = {};
  if (status.details) options.details = status.details;
  switch (status.reason) {
    case "NotFound":
      return new NotFoundError(message, options);
    case "AlreadyExists":
      return new AlreadyExistsError(message, options);
    case "Conflict":
      return new ConflictError(message, options);
    case "Gone":
    case "Expired":
      return new CompactedError(message, options);
    case "Unauthorized":
      return new UnauthorizedError(message, options);
    case "Forbidden":
      return new ForbiddenError(message, options);
    case "RequestEntityTooLarge":
      return new TooLargeError(message, options);
    case "BadRequest":
      return new BadRequestError(message, options);
    case "MethodNotAllowed":
      return new MethodNotAllowedError(message, options);
    case "UnsupportedMediaType":
      return new UnsupportedMediaTypeError(message, options);
    case "NotAcceptable":
      return new NotAcceptableError(message, options);
    case "TooManyRequests":
      return new TooManyRequestsError(message, options);
    case "ServiceUnavailable":
      return new ServiceUnavailableError(message, options);
    case "Invalid": {
      const details = status.details ?? {};
      const causes: FieldError[] = (details.causes ?? []).map((c) => ({
        field: c.field ?? "",
        type: (c.reason ?? "FieldValueInvalid") as FieldError["type"],
        message: c.message ?? "",
      }));
      const err = new InvalidError(
        details.kind ?? "object",
        details.name ?? "",
        causes,
        {
          group: details.group ?? "",
        },
      );
      err.message = message;
      return err;
    }
  }
  const code = status.code ?? 500;
  const reason = (status.reason ?? "InternalError") as StatusReason;
  return new ApiError(code, reason, message, options);
}
