/**
 * Keeps csi-local's listening socket out of child processes.
 *
 * Deno's node compatibility layer (measured with deno 2.9) creates the
 * listening socket of a `node:net` server on a unix path without
 * close-on-exec; TCP listeners, accepted and outgoing connections, and
 * `Deno.listen` sockets have it. grpc-js listens through `node:net`, so every
 * process the host process spawns afterwards (`ctr events`, `mount`,
 * containerd) would inherit csi-local's socket and keep serving it after
 * the host dies: a restarted plugin then finds it taken. This sets
 * `FD_CLOEXEC` on that socket through libc's `fcntl()`, right after it is
 * bound.
 *
 * @module
 */

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
/** `__SO_ACCEPTCON` in the flags column of /proc/net/unix: a listening socket. */
const SO_ACCEPTCON = 0x10000;

const SYMBOLS = {
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const;

/**
 * The inodes of the listening unix sockets bound at `socketPath`, from
 * `unixTable` (the text of /proc/net/unix).
 */
export function listeningInodes(unixTable: string, socketPath: string): Set<string> {
  const inodes = new Set<string>();
  for (const line of unixTable.split("\n").slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || fields.slice(7).join(" ") !== socketPath) continue;
    if ((parseInt(fields[3]!, 16) & SO_ACCEPTCON) !== 0) inodes.add(fields[6]!);
  }
  return inodes;
}

/**
 * The descriptors of this process that hold the listening unix socket
 * bound at `socketPath`.
 */
export function listeningDescriptors(socketPath: string): number[] {
  const inodes = listeningInodes(Deno.readTextFileSync("/proc/net/unix"), socketPath);
  const fds: number[] = [];
  if (inodes.size === 0) return fds;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      // Closed since the listing (the listing's own descriptor among them).
      continue;
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match && inodes.has(match[1]!)) fds.push(Number(entry.name));
  }
  return fds;
}

/**
 * Sets close-on-exec on this process's listening socket at `socketPath`;
 * returns the descriptors it set it on.
 *
 * @throws {Error} when libc cannot be called (no `--allow-ffi`, no glibc)
 *   or `fcntl()` fails, naming the socket.
 */
export function closeListenerOnExec(socketPath: string): number[] {
  const fds = listeningDescriptors(socketPath);
  if (fds.length === 0) return fds;
  let libc: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (cause) {
    throw new Error(
      `Cannot keep the socket "${socketPath}" out of child processes: libc.so.6 cannot be loaded ` +
        `(${(cause as Error).message}); run with --allow-ffi on a glibc Linux`,
      { cause },
    );
  }
  try {
    for (const fd of fds) {
      const flags = libc.symbols.fcntl(fd, F_GETFD, 0);
      if (flags < 0 || libc.symbols.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        throw new Error(`Cannot keep the socket "${socketPath}" out of child processes: fcntl() failed on fd ${fd}`);
      }
    }
  } finally {
    libc.close();
  }
  return fds;
}
