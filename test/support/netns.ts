// A small real network for one test: each host in a network namespace of its own, wired by a veth
// pair into a bridge that lives in one more namespace, and the test process (root namespace) on
// the same bridge through a veth of its own, so it reaches every host. Partitions are iptables
// DROP rules inside the hosts' namespaces, so nothing touches the machine's own rules.
//
// Names carry this process's pid and a counter (`kiln<pid>-<n>-...`), so test files running at
// once never collide; each network takes a /24 of 10.0.0.0/8 no route of the machine uses yet.
// `destroy()` removes every namespace and link it made, and says what it could not remove; a
// process exit removes whatever is left as a last resort.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why this machine cannot build the network (not root, or `ip` or `iptables` missing), or undefined. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `netns needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'netns and iptables need root';
  for (const tool of [['ip', '-V'], ['iptables', '--version']] as const) {
    try {
      execFileSync(tool[0], [tool[1]], { stdio: 'ignore' });
    } catch {
      return `'${tool[0]}' is not installed (apt-get install -y ${tool[0] === 'ip' ? 'iproute2' : 'iptables'})`;
    }
  }
  return undefined;
}

/** One host of a {@link TestNetwork}. */
export interface NetHost {
  readonly name: string;
  /** Its network namespace. */
  readonly ns: string;
  /** Its only address. */
  readonly ip: string;
}

/** The namespaces of every network not destroyed yet, for the exit-time sweep. */
const undestroyed = new Map<string, () => void>();
process.once('exit', () => {
  for (const sweep of undestroyed.values()) sweep();
});

let networks = 0;

/** A network of `hostNames`, plus the test process, on one bridge. */
export class TestNetwork {
  readonly hosts = new Map<string, NetHost>();
  /** The test process's own address on the bridge. */
  readonly clientIp: string;
  private readonly prefix: string;
  private readonly bridgeNs: string;
  private readonly clientLink: string;
  private readonly children = new Set<ChildProcess>();

  private constructor(hostNames: readonly string[], subnet: string) {
    const n = ++networks;
    this.prefix = `kiln${process.pid}-${n}`;
    this.bridgeNs = `${this.prefix}-bridge`;
    // Interface names are at most 15 bytes: `kc` + pid (7 digits at most) + `-` + n.
    this.clientLink = `kc${process.pid}-${n}`;
    this.clientIp = `${subnet}.254`;
    hostNames.forEach((name, i) => this.hosts.set(name, { name, ns: `${this.prefix}-${name}`, ip: `${subnet}.${i + 1}` }));
  }

  /** Builds the network; on any failure, removes what it had made and throws. */
  static async create(hostNames: readonly string[]): Promise<TestNetwork> {
    const network = new TestNetwork(hostNames, await freeSubnet());
    undestroyed.set(network.prefix, () => network.sweepSync());
    try {
      await network.build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  host(name: string): NetHost {
    const host = this.hosts.get(name);
    if (!host) throw new TypeError(`no host ${name} in this network`);
    return host;
  }

  private async build(): Promise<void> {
    const br = this.bridgeNs;
    await ip('netns', 'add', br);
    await ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', br, 'link', 'set', 'dev', 'br0', 'up');
    for (const [i, host] of [...this.hosts.values()].entries()) {
      await ip('netns', 'add', host.ns);
      await ip('-n', host.ns, 'link', 'set', 'dev', 'lo', 'up');
      await ip('link', 'add', 'eth0', 'netns', host.ns, 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', br);
      await ip('-n', br, 'link', 'set', 'dev', `port${i}`, 'master', 'br0', 'up');
      await ip('-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0');
      await ip('-n', host.ns, 'link', 'set', 'dev', 'eth0', 'up');
    }
    await ip('link', 'add', this.clientLink, 'type', 'veth', 'peer', 'name', 'client', 'netns', br);
    await ip('-n', br, 'link', 'set', 'dev', 'client', 'master', 'br0', 'up');
    await ip('addr', 'add', `${this.clientIp}/24`, 'dev', this.clientLink);
    await ip('link', 'set', 'dev', this.clientLink, 'up');
  }

  /**
   * Runs `command` inside `host`'s namespace (`ip netns exec` execs it, so the child's pid is the
   * command's own). The child is killed by {@link destroy}.
   */
  spawnIn(host: string, command: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(host).ns, command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Drops every packet between `a` and `b`, both ways. */
  async cut(a: string, b: string): Promise<void> {
    await Promise.all([this.dropOneWay(a, b), this.dropOneWay(b, a)]);
  }

  /** Drops every packet `from` sends to `to` (the other way still passes). */
  async dropOneWay(from: string, to: string): Promise<void> {
    await iptables(this.host(from).ns, '-A', 'OUTPUT', '-d', this.host(to).ip, '-j', 'DROP');
  }

  /** Removes every partition rule. */
  async heal(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => iptables(host.ns, '-F', 'OUTPUT')));
  }

  /**
   * Kills every process started in the network, removes its links and namespaces, and checks
   * that `ip netns list` shows none of them any more.
   */
  async destroy(): Promise<void> {
    await Promise.all(
      [...this.children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    // Deleting a namespace frees its links asynchronously; delete the root-side one at once.
    await ip('link', 'del', 'dev', this.clientLink).catch(() => undefined);
    for (const ns of this.namespaces()) await ip('netns', 'del', ns).catch(() => undefined);
    undestroyed.delete(this.prefix);
    const left = (await ip('netns', 'list')).split('\n').filter((line) => line.startsWith(`${this.prefix}-`));
    if (left.length > 0) throw new Error(`network namespaces left behind: ${left.join(', ')}`);
  }

  private namespaces(): string[] {
    return [...[...this.hosts.values()].map((h) => h.ns), this.bridgeNs];
  }

  /** The exit-time sweep: synchronous, since an exiting process runs no more callbacks. */
  private sweepSync(): void {
    for (const child of this.children) child.kill('SIGKILL');
    for (const args of [['link', 'del', 'dev', this.clientLink], ...this.namespaces().map((ns) => ['netns', 'del', ns])]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // Already gone, or never made.
      }
    }
  }
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    throw new Error(`ip ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
  }
}

async function iptables(ns: string, ...args: string[]): Promise<void> {
  // `-w`: the xtables lock is one file shared by every namespace, so other tests may hold it.
  await ip('netns', 'exec', ns, 'iptables', '-w', '5', ...args);
}

/** A `10.x.y` /24 that no address or route of the root namespace overlaps. */
async function freeSubnet(): Promise<string> {
  const routes = await ip('-4', 'route', 'show', 'table', 'all');
  const used = (await ip('-4', '-o', 'addr', 'show')) + routes;
  for (let attempt = 0; attempt < 100; attempt++) {
    const subnet = `10.${64 + Math.floor(Math.random() * 190)}.${Math.floor(Math.random() * 256)}`;
    // Any 10.0.0.0/8 route shorter than /24 could cover it too: then every candidate is unsafe.
    if (/(^|\s)10\.\d+\.\d+\.\d+\/([0-9]|1[0-9]|2[0-3])\b/m.test(routes)) break;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 subnet for a test network');
}
