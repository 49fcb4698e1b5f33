/**
 * The error every csi-local operation throws to end an RPC with a given
 * gRPC status code, as the CSI specification assigns them.
 *
 * @module
 */

import { status } from "@grpc/grpc-js";

/** Ends an RPC with gRPC status `code` and a human readable message. */
export class RpcError extends Error {
  /** The gRPC status code. */
  readonly code: status;

  /** Creates the error. */
  constructor(code: status, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcError";
    this.code = code;
  }
}

/** INVALID_ARGUMENT naming the missing REQUIRED field. */
export function missingField(field: string): RpcError {
  return new RpcError(
    status.INVALID_ARGUMENT,
    `Missing required field "${field}"`,
  );
}

/** INVALID_ARGUMENT naming the field and what is wrong with it. */
export function invalidField(field: string, problem: string): RpcError {
  return new RpcError(
    status.INVALID_ARGUMENT,
    `Invalid field "${field}": ${problem}`,
  );
}
