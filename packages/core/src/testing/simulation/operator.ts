/**
 * The simulation's operator: membership changes of a one-stripe group at runtime, as `kiln admin
 * add-mirror` and `remove-mirror` make them, amid the nemesis's faults. It adds a spare server
 * (started at once, late, or only when the run heals), removes a mirror, or fails the active over
 * (a crash) and removes it through its successor. A change may be recorded, given up
 * (`TimeoutError`), refused (`InvalidArgumentError`) or cut short by a failover (`NotActiveError`);
 * any other outcome is a problem of the run. The history checker and the cluster's one-active-a-term
 * check judge what the changes did.
 */
import type { GroupView } from '../../replication/group-view.js';
import type { KilnServer } from '../../server/server.js';
import type { SimCluster } from './cluster.js';
import { simUrl } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

/** How a change may end without anything being wrong. */
const EXPECTED_FAILURES = new Set(['TimeoutError', 'InvalidArgumentError', 'NotActiveError']);
/** How long the operator waits for a successor after failing the active over, virtual ms. */
const FAILOVER_WAIT_MS = 10_000;

export class Operator {
  /** Spares asked for once: a spare is added at most once a run. */
  private readonly asked = new Set<string>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly cluster: SimCluster,
    private readonly random: Prng,
    private readonly problems: string[],
  ) {}

  /** Makes one change, drawn by the seed; `line` notes what was done and how it ended. */
  async change(line: (text: string) => void): Promise<void> {
    const active = this.cluster.activeName();
    if (active === undefined) return line('membership change skipped: no active');
    const spare = this.cluster.spareNames.find((name) => !this.asked.has(name));
    const kind = this.random.pick(spare === undefined ? ['remove', 'remove-active'] : ['add', 'add', 'remove', 'remove-active']);
    if (kind === 'add') return this.add(active, spare!, line);
    if (kind === 'remove') {
      const mirrors = this.cluster.groupServers().filter((name) => name !== active);
      if (mirrors.length === 0) return line('membership change skipped: no mirror to remove');
      return this.remove(active, this.random.pick(mirrors), line);
    }
    return this.removeActive(active, line);
  }

  /** Adds `spare`, started before the request, a while after it, or not before the run heals. */
  private async add(active: string, spare: string, line: (text: string) => void): Promise<void> {
    this.asked.add(spare);
    const start = this.random.pick(['first', 'late', 'at the heal']);
    line(`operator adds ${spare} through ${active} (${spare} starts ${start})`);
    if (start === 'first') await this.cluster.restart(spare);
    const url = simUrl(spare);
    this.watch(`add ${spare}`, active, (server) => server.addMirror({ name: spare, kind: 'server', peer: `${url}/peer`, clientUrls: [url], weight: 1 }), line);
    if (start === 'late') {
      await this.scheduler.sleep(this.random.int(100, 3000));
      await this.cluster.restart(spare);
    }
  }

  private async remove(active: string, mirror: string, line: (text: string) => void): Promise<void> {
    line(`operator removes ${mirror} through ${active}`);
    this.watch(`remove ${mirror}`, active, (server) => server.removeMirror(mirror), line);
  }

  /** Crashes the active, removes it through its successor once one holds office, then restarts it. */
  private async removeActive(active: string, line: (text: string) => void): Promise<void> {
    line(`operator stops the active ${active} to remove it`);
    await this.cluster.crash(active);
    const deadline = this.scheduler.now + FAILOVER_WAIT_MS;
    let successor = this.cluster.activeName();
    while (successor === undefined && this.scheduler.now < deadline) {
      await this.scheduler.sleep(100);
      successor = this.cluster.activeName();
    }
    if (successor === undefined) line(`operator finds no successor of ${active}`);
    else await this.remove(successor, active, line);
    await this.scheduler.sleep(this.random.int(0, 2000));
    await this.cluster.restart(active);
  }

  /** Asks `active` for a change and notes how it ends, without waiting: a change may take an election time. */
  private watch(what: string, active: string, ask: (server: KilnServer) => Promise<GroupView>, line: (text: string) => void): void {
    const server = this.cluster.member(active)?.server;
    if (!server) return line(`operator: ${what}: ${active} is down`);
    ask(server).then(
      (view) => line(`operator: ${what}: recorded in view ${view.version}`),
      (error: unknown) => {
        const name = error instanceof Error ? error.name : String(error);
        line(`operator: ${what}: ${name}`);
        if (!EXPECTED_FAILURES.has(name)) this.problems.push(`operator: ${what} failed with ${name}: ${error instanceof Error ? error.message : ''}`);
      },
    );
  }
}
