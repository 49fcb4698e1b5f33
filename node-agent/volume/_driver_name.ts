/**
 * Checks the driver name a plugin reports: the agent uses it as a path
 * segment, so only the domain-name form the CSI spec requires is accepted.
 *
 * @module
 */

const DRIVER_NAME = /^[A-Za-z0-9]([-A-Za-z0-9.]{0,61}[A-Za-z0-9])?$/;

/**
 * Returns `name` when it is a valid CSI driver name.
 *
 * @throws {Error} naming the endpoint and the name otherwise.
 */
export function checkDriverName(name: string | undefined, endpoint: string): string {
  if (!name) {
    throw new Error(`Plugin at "${endpoint}" reports no driver name in GetPluginInfo`);
  }
  if (!DRIVER_NAME.test(name) || name.includes("..")) {
    throw new Error(
      `Plugin at "${endpoint}" reports an invalid driver name "${name}": expected domain name notation, at most 63 characters`,
    );
  }
  return name;
}
