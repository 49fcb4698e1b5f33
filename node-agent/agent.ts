/**
 * The node agent's composition root: {@linkcode runAgent} starts, in
 * order, the node's identity, containerd, the container runtime, the
 * hardware monitor, the logs and exec server, the Node registration and its
 * heartbeats, the server's certificate, the wait for a pod CIDR, the pod
 * network, the node's part of the cluster network (routes to the other
 * nodes' pods, the service proxy, the cluster DNS server), volume plugins,
 * airgap image import, the pod manager and the volume provisioner; each
 * step logs one line, and a failure says what to do.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Clock,
  CLUSTER_DOMAIN,
  CONTAINERD_NAMESPACE,
  type Node,
  SERVICE_CIDR,
  systemClock,
  type Taint,
} from "@skiff/api";
import { ApiClient, createTlsFetch, EventRecorder, SharedInformers, type Transport } from "@skiff/client";
import { startAgentCloud } from "./cloud/mod.ts";
import { ClusterDns } from "./dns/mod.ts";
import {
  type DeviceKind,
  HardwareMonitor,
  type HardwareMonitorOptions,
  type HardwareReadings,
} from "./hardware/mod.ts";
import {
  CniPodNetwork,
  DEFAULT_CNI_BIN_DIR,
  masqueradeScope,
  NodeRoutes,
  podGateway,
  type PodNetwork,
  ServiceProxy,
} from "./network/mod.ts";
import {
  AGENT_PORT,
  checkExternalIp,
  checkNodeName,
  checkVolumePlugins,
  CredentialsError,
  credentialsPath,
  defaultNodeName,
  isJoinToken,
  joinCluster,
  loadCredentials,
  localAddressTowards,
  mergeCredentials,
  MetricsReporter,
  nodeAddresses,
  NodeCredentialsError,
  NodeHeartbeat,
  nodeObject,
  pickInternalIp,
  podMetrics,
  registerNode,
  saveCredentials,
  waitForPodCidr,
} from "./node/mod.ts";
import { type ClusterDnsConfig, PodManager } from "./pods/mod.ts";
import { VolumeProvisioner } from "./provisioner/mod.ts";
import { ContainerdRuntime, ensureContainerd, type Runtime, startImageImport } from "./runtime/mod.ts";
import { type AgentServer, ServingCertificateKeeper, startAgentServer } from "./server/mod.ts";
import { discoverPlugins } from "./volume/mod.ts";

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  /** The API server's URL (default: the stored credentials'). */
  server?: string;
  /**
   * A join token (`K10<ca-hash>::<id>.<secret>`, exchanged for a node token
   * on the first start), or a node (or admin) bearer token (default: the
   * stored credentials').
   */
  token?: string;
  /** The cluster CA, PEM (default: the stored credentials'; none: the system's roots). */
  caPem?: string;
  /** The node's name (default: the stored one, else the hostname in lower case). */
  nodeName?: string;
  /** Where the agent keeps its state: credentials, pods, network, images, containerd. */
  dataDir: string;
  /**
   * containerd's socket. Default: `/run/containerd/containerd.sock` when it
   * answers, else a containerd of the agent's own under the data directory.
   */
  containerdAddress?: string;
  /** The node's InternalIP (default: the address this machine reaches the server from). */
  nodeIp?: string;
  /**
   * The node's ExternalIP, an IPv4 or IPv6 literal: the address the machine
   * is reached at from outside its LAN (default: none reported).
   */
  externalIp?: string;
  /** Extra node labels. */
  labels?: Record<string, string>;
  /** Node taints. */
  taints?: Taint[];
  /** Time source. */
  clock?: Clock;
  /** Where progress and problems are told (default: standard error). */
  log?: (line: string) => void;
  /**
   * How requests reach the API server (default: HTTPS trusting `caPem`);
   * `skiff up` hands them to its API handler in process.
   */
  transport?: Transport;
  /** Aborts the start (while waiting for the pod CIDR, say). */
  signal?: AbortSignal;
  /** The container runtime to use instead of containerd (tests pass a FakeRuntime). */
  runtime?: Runtime;
  /** Where the hardware is read (tests point these at fixture trees). */
  hardware?: Pick<HardwareMonitorOptions, "roots" | "exec" | "listInterfaces" | "arch" | "periods">;
  /** Builds the pod network for the node's pod CIDR (default: CNI plugins, state under `<data-dir>/network`). */
  network?: (podCidr: string) => PodNetwork;
  /** The port container logs and exec are served on, for the API server (default 10250; 0 picks a free one). */
  port?: number;
  /** The address that port is bound on (default 0.0.0.0). */
  bindAddress?: string;
  /**
   * The containerd namespace of the node's containers and images (default
   * `skiff`); agents that share one containerd need one each.
   */
  containerdNamespace?: string;
  /**
   * Run the node's part of the cluster network (default `true`): host-gw
   * routes to every other node's pods, the service proxy's nftables table
   * (which also masquerades traffic leaving the cluster's pod range) and
   * the cluster DNS server on the pod bridge's address, which pods get as
   * their name server. `false` leaves all three out, for an agent that
   * shares its network namespace with other agents or a test.
   */
  clusterNetwork?: boolean;
}

/** A running agent. */
export interface Agent {
  /** The node's name. */
  readonly nodeName: string;
  /** The Node as registered, with its pod CIDR. */
  readonly node: Node;
  /**
   * Stops the agent: pod workers, heartbeats and metrics end; containers
   * keep running, and a containerd the agent started is stopped (its
   * containers' shims survive it).
   */
  stop(): Promise<void>;
}

/** A step of the start failed; the message says which and what to do. */
export class AgentStartError extends Error {
  /** The step that failed, e.g. `containerd`. */
  readonly step: string;

  /** Creates the error. */
  constructor(step: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AgentStartError";
    this.step = step;
  }
}

const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"];
/** containerd's rule for namespace names. */
const CONTAINERD_NAMESPACE_NAME = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** The CNI plugins the pod network runs that are not installed. */
async function missingCniPlugins(): Promise<string[]> {
  const missing: string[] = [];
  for (const plugin of CNI_PLUGINS) {
    try {
      await Deno.stat(join(DEFAULT_CNI_BIN_DIR, plugin));
    } catch {
      missing.push(plugin);
    }
  }
  return missing;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function describeHardware(readings: HardwareReadings): string {
  const { cpu, memory, thermal, board } = readings;
  const parts = [
    `${cpu.cores} × ${cpu.model || "unknown CPU"} (${cpu.arch})`,
    `${gib(memory.totalBytes)} memory`,
    thermal.celsius === null ? "no temperature sensor" : `${thermal.celsius.toFixed(1)}°C`,
  ];
  if (board.model) parts.unshift(board.model);
  return parts.join(", ");
}

/**
 * Starts the agent and resolves once its pods are being run and the node
 * reports Ready.
 *
 * @throws {AgentStartError} naming the step that failed and what to do; everything started is stopped again
 *
 * @example
 * ```ts
 * const agent = await runAgent({
 *   server: "https://192.168.1.10:6443",
 *   token: "abc123.0123456789abcdef",
 *   caPem: await Deno.readTextFile("ca.crt"),
 *   dataDir: "/var/lib/skiff",
 * });
 * Deno.addSignalListener("SIGTERM", () => agent.stop());
 * ```
 */
export async function runAgent(options: AgentOptions): Promise<Agent> {
  const log = options.log ?? ((line: string) => console.error(line));
  const clock = options.clock ?? systemClock;
  const { dataDir } = options;
  const undo: { what: string; run: () => Promise<void> | void }[] = [];
  const stopAll = async () => {
    for (const { what, run } of undo.splice(0).reverse()) {
      try {
        await run();
      } catch (error) {
        log(`Stopping the agent: cannot stop ${what}: ${errorMessage(error)}`);
      }
    }
  };
  /** Runs one step of the start; a failure becomes an AgentStartError carrying `hint` (unless it explains itself). */
  const step = async <T>(name: string, hint: string, run: () => Promise<T>): Promise<T> => {
    options.signal?.throwIfAborted();
    try {
      return await run();
    } catch (error) {
      if (options.signal?.aborted || error instanceof AgentStartError) throw error;
      const explained = error instanceof NodeCredentialsError || error instanceof CredentialsError;
      const why = `${errorMessage(error)}${hint && !explained ? `; ${hint}` : ""}`;
      throw new AgentStartError(name, why, { cause: error });
    }
  };

  const containerdNamespace = options.containerdNamespace ?? CONTAINERD_NAMESPACE;
  if (!CONTAINERD_NAMESPACE_NAME.test(containerdNamespace) || containerdNamespace.length > 76) {
    throw new AgentStartError(
      "options",
      `Invalid containerd namespace "${containerdNamespace}": expected up to 76 letters and digits, separated by single ".", "_" or "-"`,
    );
  }
  if (options.externalIp !== undefined) {
    try {
      checkExternalIp(options.externalIp);
    } catch (error) {
      throw new AgentStartError("options", errorMessage(error), { cause: error });
    }
  }

  try {
    // 1. Identity.
    const credentials = await step("credentials", "", async () => {
      const stored = await loadCredentials(dataDir);
      const given = {
        ...(options.server !== undefined ? { server: options.server } : {}),
        ...(options.caPem !== undefined ? { caPem: options.caPem } : {}),
        ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
      };
      // A join token (K10…) is exchanged for a node credential first, which is stored at once.
      const joining = options.token !== undefined && isJoinToken(options.token);
      const merged = joining
        ? await joinCluster({
          ...given,
          token: options.token!,
          stored,
          dataDir,
          defaultNodeName: defaultNodeName(),
          log,
        })
        : mergeCredentials(stored, {
          ...given,
          ...(options.token !== undefined ? { token: options.token } : {}),
        }, { defaultNodeName: defaultNodeName(), path: credentialsPath(dataDir) });
      checkNodeName(merged.nodeName);
      log(
        `Node identity: "${merged.nodeName}" of ${merged.server} (${
          stored || joining ? "stored in" : "to be stored in"
        } ${credentialsPath(dataDir)})`,
      );
      return merged;
    });
    const nodeName = credentials.nodeName;
    const tls = options.transport ? undefined : createTlsFetch(credentials.caPem ? { caPem: credentials.caPem } : {});
    const client = new ApiClient({
      server: credentials.server,
      token: credentials.token,
      transport: options.transport ?? tls!,
      userAgent: `skiff-agent/${nodeName}`,
    });
    undo.push({ what: "the API client", run: () => tls?.close() });

    // 2. containerd and 3. the runtime.
    let containerdAddress: string | undefined;
    const runtime = options.runtime ?? await step(
      "containerd",
      "install containerd and runc (apt-get install containerd runc), or pass --containerd-address with a running containerd's socket",
      async () => {
        const containerd = await ensureContainerd({
          ...(options.containerdAddress !== undefined ? { address: options.containerdAddress } : {}),
          dataDir,
        });
        undo.push({ what: "containerd", run: () => containerd.stop() });
        containerdAddress = containerd.address;
        log(
          containerd.ownProcess
            ? `containerd: started one of the agent's own (pid ${containerd.pid}) at ${containerd.address}; its log: ${containerd.logFile}`
            : `containerd: using the one at ${containerd.address}`,
        );
        const containerdRuntime = new ContainerdRuntime({
          stateDir: join(dataDir, "runtime"),
          address: containerd.address,
          namespace: containerdNamespace,
          onError: (error) => log(`Container runtime: ${error.message}`),
        });
        undo.push({ what: "the container runtime", run: () => containerdRuntime.close() });
        return containerdRuntime;
      },
    );
    const runtimeVersion = await step("runtime", "check that containerd runs and answers on its socket", async () => {
      const version = await runtime.version();
      log(`Container runtime: ${version.name} ${version.version} (namespace "${containerdNamespace}")`);
      return `${version.name}://${version.version}`;
    });

    // 4. Hardware.
    const monitor = new HardwareMonitor({
      dataDir,
      clock,
      ...options.hardware,
      onError: (area, error) => log(`Hardware reading "${area}" failed, keeping the previous one: ${error.message}`),
    });
    const readings = await step("hardware", "check that /proc and /sys are mounted", async () => {
      const first = await monitor.start();
      undo.push({ what: "the hardware monitor", run: () => monitor.stop() });
      log(`Hardware: ${describeHardware(first)}`);
      return first;
    });

    // 5. Node registration and heartbeats.
    const internalIp = await step("address", "", async () =>
      pickInternalIp({
        ...(options.nodeIp !== undefined ? { nodeIp: options.nodeIp } : {}),
        ...(options.transport ? {} : { routeAddress: await localAddressTowards(credentials.server) }),
        interfaces: readings.network.interfaces,
      }));
    const addresses = nodeAddresses(
      internalIp,
      defaultNodeName(),
      options.externalIp !== undefined ? { externalIp: options.externalIp } : {},
    );

    // Logs and exec: listening now, so the Node reports the port; served once the API server signs a certificate.
    const bindAddress = options.bindAddress ?? "0.0.0.0";
    let server: AgentServer | undefined;
    try {
      const started = await startAgentServer({ runtime, port: options.port ?? AGENT_PORT, hostname: bindAddress, log });
      undo.push({ what: "the logs and exec server", run: () => started.close() });
      server = started;
    } catch (error) {
      log(
        `Logs and exec: ${
          errorMessage(error)
        }; skiff logs and skiff exec cannot reach pods on this node until the agent runs with a free --port`,
      );
    }
    const agentPort = server?.port ?? options.port ?? AGENT_PORT;
    const externalNote = options.externalIp !== undefined ? `, ExternalIP ${options.externalIp}` : "";
    const waitingForCidr = "pod network is not ready: waiting for the control plane to assign a pod CIDR";
    const registered = await step(
      "registration",
      `check that the API server at ${credentials.server} runs and that this machine reaches it`,
      async () => {
        const result = await registerNode(
          client,
          nodeObject(readings, {
            name: nodeName,
            now: clock.now(),
            addresses,
            containerRuntimeVersion: runtimeVersion,
            notReadyReasons: [waitingForCidr],
            agentPort,
            ...(options.labels ? { labels: options.labels } : {}),
            ...(options.taints ? { taints: options.taints } : {}),
          }),
        );
        await saveCredentials(dataDir, credentials);
        log(
          result.created
            ? `Registered node "${nodeName}" (InternalIP ${internalIp}${externalNote})`
            : `Node "${nodeName}" was registered before: updated it (uid ${result.node.metadata.uid}, InternalIP ${internalIp}${externalNote})`,
        );
        return result.node;
      },
    );
    const heartbeat = new NodeHeartbeat({
      client,
      node: registered,
      monitor,
      addresses,
      containerRuntimeVersion: runtimeVersion,
      notReadyReasons: [waitingForCidr],
      agentPort,
      health: async () => {
        const reasons: string[] = [];
        try {
          await runtime.version();
        } catch (error) {
          reasons.push(`container runtime is down: ${errorMessage(error)}`);
        }
        if (!options.network) {
          const missing = await missingCniPlugins();
          if (missing.length > 0) {
            reasons.push(
              `pod network is not ready: CNI plugins ${
                missing.join(", ")
              } are missing from ${DEFAULT_CNI_BIN_DIR}; install them with apt-get install containernetworking-plugins`,
            );
          }
        }
        return reasons;
      },
      ...(options.labels ? { labels: options.labels } : {}),
      clock,
      log,
    });
    await step("heartbeat", "check that the token is a node token for this node name", async () => {
      await heartbeat.start();
      undo.push({ what: "the heartbeats", run: () => heartbeat.stop() });
    });
    if (server) {
      const serving = server;
      const keeper = new ServingCertificateKeeper({
        client,
        nodeName,
        addresses,
        dataDir,
        clock,
        log,
        onCertificate: (certificate) => serving.setCertificate(certificate),
      });
      undo.push({ what: "the serving certificate renewal", run: () => keeper.stop() });
      try {
        const certificate = await keeper.start();
        log(
          `Logs and exec: serving on https://${bindAddress}:${serving.port} to the API server only (client certificate "skiff-apiserver"); certificate valid until ${certificate.notAfter.toISOString()}`,
        );
      } catch (error) {
        log(
          `Logs and exec: cannot get a serving certificate from the API server: ${
            errorMessage(error)
          }; trying again every minute, and until then skiff logs and skiff exec fail for pods on this node`,
        );
      }
    }

    // 6. Pod CIDR and network.
    const node = await step(
      "pod CIDR",
      "",
      () => waitForPodCidr(client, nodeName, { clock, log, ...(options.signal ? { signal: options.signal } : {}) }),
    );
    const podCidr = node.spec!.podCIDR!;
    const clusterNetwork = options.clusterNetwork ?? true;
    const network = await step("pod network", "", () => {
      // With the cluster network on, the service proxy's table masquerades traffic leaving the cluster's pod range.
      const built = options.network?.(podCidr) ??
        new CniPodNetwork({ nodeName, podCidr, stateDir: join(dataDir, "network"), ipMasq: !clusterNetwork });
      log(`Pod network: ${podCidr} on this node; state in ${join(dataDir, "network")}`);
      return Promise.resolve(built);
    });

    // 7. Cluster network: routes to other nodes' pods, Services, DNS.
    let clusterDns: ClusterDnsConfig | undefined;
    if (clusterNetwork) {
      clusterDns = await startClusterNetwork({ client, podCidr, internalIp, network, clock, log, step, undo });
    } else {
      log("Cluster network: off (no routes to other nodes' pods, no service proxy, no cluster DNS)");
    }

    // 8. Volume plugins.
    await step("volume plugins", `check the plugin sockets under ${join(dataDir, "plugins")}`, async () => {
      const check = await checkVolumePlugins(dataDir);
      for (const failure of check.failures) {
        log(
          `Volume plugin at "${failure.socketPath}" does not answer: ${failure.message}; its volumes cannot be mounted`,
        );
      }
      log(
        `Volume plugins: ${
          check.drivers.length > 0 ? check.drivers.join(", ") : "none yet"
        } under ${check.pluginsDir} (plugins started later are found when a pod needs them)`,
      );
    });

    // 9. Airgap images.
    await step("images", `check that ${join(dataDir, "images")} is a writable directory`, async () => {
      const imagesDir = join(dataDir, "images");
      if (containerdAddress === undefined) {
        log(`Images: not importing archives from ${imagesDir}: the runtime in use is not containerd`);
        return;
      }
      await Deno.mkdir(imagesDir, { recursive: true });
      const importer = await startImageImport({
        imagesDir,
        address: containerdAddress,
        namespace: containerdNamespace,
        onImported: ({ file, refs }) => log(`Images: imported ${refs.join(", ") || "nothing"} from ${file}`),
        onError: (error) => log(`Images: ${error.message}`),
      });
      undo.push({ what: "the image import", run: () => importer.close() });
      log(`Images: archives (*.tar) in ${imagesDir} are imported now and whenever one appears`);
    });

    // 10. Pods.
    const recorder = new EventRecorder(client, {
      component: "skiff-agent",
      host: nodeName,
      clock,
      onError: (error) => log(`Cannot record an event: ${errorMessage(error)}`),
    });
    const pods = new PodManager({
      client,
      nodeName,
      runtime,
      network,
      devicePaths: (kind) => monitor.readings.devices.paths[kind as DeviceKind] ?? [],
      dataDir,
      hostIP: internalIp,
      recorder,
      clock,
      log,
      ...(clusterDns ? { clusterDns } : {}),
    });
    await step("pods", "check that the container runtime answers and the data directory is writable", async () => {
      undo.push({
        what: "the pod manager",
        run: async () => {
          await pods.stop();
          await recorder.flush();
        },
      });
      await pods.start();
    });
    // 10b. Volume provisioning: the claims the scheduler picked this node for get volumes from its CSI plugins.
    await step("volume provisioner", `check the plugin sockets under ${join(dataDir, "plugins")}`, async () => {
      const { plugins } = await discoverPlugins(join(dataDir, "plugins"));
      if (plugins.length === 0) {
        log(
          `Volume provisioner: off: no CSI plugin serves a socket under ${
            join(dataDir, "plugins")
          }; start one (skiff csi-local) and restart the agent to provision claims on this node`,
        );
        return;
      }
      const provisioner = new VolumeProvisioner({ client, nodeName, plugins, recorder, clock, log });
      undo.push({
        what: "the volume provisioner",
        run: async () => {
          await provisioner.stop();
          for (const plugin of plugins) plugin.client.close();
        },
      });
      await provisioner.start();
    });
    // 10c. Cloud: LoadBalancer addresses this node wins, and power actions the cloud controller asks for.
    await step("cloud", "check that ip works on this node", async () => {
      const mac = readings.network.interfaces.find((i) => i.ipv4 === internalIp)?.mac ?? "";
      const cloud = await startAgentCloud({
        client,
        nodeName,
        internalIp,
        mac,
        recorder,
        announce: clusterNetwork,
        clock,
        log,
      });
      undo.push({ what: "the LoadBalancer announcer", run: () => cloud.stop() });
      log(
        `Cloud: ${
          clusterNetwork
            ? "this node answers for the LoadBalancer addresses it wins (Leases kube-system/skiff-lb-*)"
            : "no LoadBalancer addresses (cluster network off)"
        }${mac ? `; Wake-on-LAN MAC ${mac} reported` : ""}`,
      );
    });
    const metrics = new MetricsReporter({
      client,
      nodeName,
      readings: () => monitor.readings,
      podMetrics: async () => (await pods.stats()).flatMap((sample) => podMetrics(sample) ?? []),
      clock,
      log,
    });
    metrics.start();
    undo.push({ what: "the metrics reports", run: () => metrics.stop() });

    // 11. Ready.
    await step("ready", "check that this machine still reaches the API server", () => heartbeat.setNotReadyReasons([]));
    const ready = heartbeat.node.status?.conditions?.find((c) => c.type === "Ready");
    log(
      ready?.status === "True"
        ? `Node "${nodeName}" is Ready: pods bound to it run here`
        : `Node "${nodeName}" is not Ready: ${
          ready?.message ?? "no Ready condition"
        }; it reports Ready once that is fixed`,
    );

    let stopping: Promise<void> | undefined;
    return {
      nodeName,
      node,
      stop: () => stopping ??= stopAll(),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What {@linkcode startClusterNetwork} needs from {@linkcode runAgent}. */
interface ClusterNetworkContext {
  client: ApiClient;
  podCidr: string;
  internalIp: string;
  network: PodNetwork;
  clock: Clock;
  log: (line: string) => void;
  step: <T>(name: string, hint: string, run: () => Promise<T>) => Promise<T>;
  undo: { what: string; run: () => Promise<void> | void }[];
}

/**
 * Starts the node's part of the cluster network on shared Node, Service
 * and EndpointSlice informers: the routes to every other node's pods, the
 * service proxy and the cluster DNS server on the pod bridge's address
 * (the bridge is created first, so it answers before the first pod
 * starts). Routes and the nftables table stay when the agent stops, so
 * pods keep their connections while it restarts. Returns what pods'
 * resolv.conf points at.
 */
async function startClusterNetwork(context: ClusterNetworkContext): Promise<ClusterDnsConfig> {
  const { client, podCidr, internalIp, network, clock, log, step, undo } = context;
  const informers = new SharedInformers(client, {
    clock,
    onError: (error) => log(`Watching Nodes, Services or EndpointSlices failed: ${errorMessage(error)}; retrying`),
  });
  undo.push({ what: "the Node, Service and EndpointSlice watches", run: () => informers.stop() });
  const scope = masqueradeScope({ podCidr });
  const routes = new NodeRoutes({ source: { informers }, ownAddress: internalIp, clock, log });
  const proxy = new ServiceProxy({
    source: { informers },
    nodeAddresses: [internalIp],
    podCidr: scope.podCidr,
    clusterCidr: scope.clusterCidr,
    clock,
    log,
  });
  const gateway = network instanceof CniPodNetwork ? network.gateway : podGateway(podCidr);
  const dns = new ClusterDns({ source: { informers }, address: gateway, clock, log });

  await step("service proxy", "check that nft works on this node (apt-get install nftables)", async () => {
    undo.push({ what: "the service proxy", run: () => proxy.stop({ keepTable: true }) });
    await proxy.start();
    const applied = proxy.lastApply;
    log(
      `Service proxy: nftables table "ip skiff" holds ${applied?.servicePorts ?? 0} Service ports with ${
        applied?.endpoints ?? 0
      } endpoints; it masquerades traffic from ${scope.clusterCidr} to outside it`,
    );
  });
  await step("routes", "check that ip and sysctl work on this node", async () => {
    undo.push({ what: "the routes to other nodes' pods", run: () => routes.stop() });
    const report = await routes.start();
    const count = (report?.added.length ?? 0) + (report?.unchanged.length ?? 0);
    log(`Routes to other nodes' pods: ${count} in place (host-gw through each node's InternalIP)`);
  });
  await step("cluster DNS", `free port 53 on ${gateway} (UDP and TCP)`, async () => {
    undo.push({ what: "the cluster DNS server", run: () => dns.stop() });
    if (network instanceof CniPodNetwork) {
      await network.ensureBridge();
      await dns.start();
    } else {
      // Another pod network makes the gateway address when it likes: the server binds once it exists.
      dns.start().catch((error) => log(`Cluster DNS: ${errorMessage(error)}; pods on this node cannot resolve names`));
    }
  });
  log(
    `Cluster DNS: pods resolve ${CLUSTER_DOMAIN} names through ${gateway} (Services in ${SERVICE_CIDR}), the rest upstream`,
  );
  return { nameserver: gateway, searchDomain: CLUSTER_DOMAIN };
}
