// The `kiln` command as a newcomer meets it (issue 13): the command npm links runs, every command
// has its help, and each mistake a user makes ends in one line on stderr and an exit code that
// `kiln help` lists, never a stack trace; paths in a config file are relative to the file.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllKilns, KILN_BIN, startKiln } from './support/cluster.js';

const CLI_PACKAGE = fileURLToPath(new URL('../packages/cli/', import.meta.url));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAllKilns();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-first-hour-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const kiln = (...args: string[]) => spawnSync(process.execPath, [KILN_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

/** One line on stderr, no stack, and the exit code given. */
function expectOneLineFailure(result: ReturnType<typeof kiln>, code: number, pattern: RegExp): void {
  expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.status).toBe(code);
}

describe('kiln as npm links it', () => {
  it('links a file kept in git, which runs the built command', () => {
    const manifest = JSON.parse(readFileSync(join(CLI_PACKAGE, 'package.json'), 'utf8')) as { version: string; bin: { kiln: string }; files: string[] };
    // npm links a bin only if the file exists at install time: it must not be a build output.
    expect(manifest.bin.kiln).not.toMatch(/^(\.\/)?dist\//);
    expect(manifest.files).toContain(manifest.bin.kiln.replace(/^\.\//, '').split('/')[0]);
    const shim = join(CLI_PACKAGE, manifest.bin.kiln);
    expect(existsSync(shim)).toBe(true);
    const version = spawnSync(shim, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(`kiln ${manifest.version}`);
  });
});

describe('kiln help', () => {
  const help = kiln('help');
  const commands = [...new Set([...help.stdout.matchAll(/^ {2}kiln ([a-z][a-z-]*)/gm)].map((m) => m[1]!))].filter((c) => c !== 'help');

  it('describes every command and lists the exit codes', () => {
    expect(help.status).toBe(0);
    expect(commands).toEqual(expect.arrayContaining(['start', 'voter', 'certs', 'admin', 'status', 'diverged', 'stripe-of', 'txn', 'passwd', 'token']));
    for (const code of [0, 1, 2, 3, 4, 5]) expect(help.stdout).toMatch(new RegExp(`^ {2}${code} {2}\\S`, 'm'));
  });

  it('answers kiln COMMAND --help and kiln help COMMAND for every command, exit 0, without parser text', () => {
    for (const command of commands) {
      for (const args of [[command, '--help'], ['help', command], ...(command === 'start' ? [[command, '-h']] : [])]) {
        const result = kiln(...args);
        expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
        expect(result.stderr).toBe('');
        // `kiln bench --help` prints its own, longer text.
        expect(result.stdout).toMatch(new RegExp(`^(?: {2}|usage: )kiln ${command}\\b`, 'm'));
        expect(result.stdout).not.toMatch(/Unknown option|ERR_PARSE_ARGS|positional/);
      }
    }
    const bare = kiln('--help');
    expect(bare.status).toBe(0);
    expect(bare.stdout).toBe(help.stdout);
  });

  it('refuses help for a command that does not exist, with the usage exit code', () => {
    expectOneLineFailure(kiln('help', 'frobnicate'), 2, /unknown command 'frobnicate'/);
    expectOneLineFailure(kiln('frobnicate'), 2, /unknown command 'frobnicate'/);
  });

  it('names the nearest command for a mistyped one, and every command when none is near', () => {
    expectOneLineFailure(kiln('statsu'), 2, /^kiln: unknown command 'statsu'; did you mean 'status'\? \(see kiln help\)$/m);
    expectOneLineFailure(kiln('help', 'stripeof'), 2, /unknown command 'stripeof'; did you mean 'stripe-of'\?/);
    const far = kiln('frobnicate');
    expectOneLineFailure(far, 2, /unknown command 'frobnicate'; the commands are /);
    for (const command of commands) expect(far.stderr).toContain(command);
  });

  it('kiln alone prints the usage on stderr and exits 2 (usage): it had exited 0, as if a script that forgot its command had succeeded', () => {
    const bare = kiln();
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toBe(help.stdout);
  });
});

describe('mistakes a user makes: one line on stderr and the exit code kiln help lists', () => {
  it('an unknown option: usage (2)', () => {
    expectOneLineFailure(kiln('start', '--bogus'), 2, /^kiln: Unknown option '--bogus' \(see kiln start --help\)$/m);
    expectOneLineFailure(kiln('start', '--log-format', 'xml'), 2, /--log-format must be text or json/);
    // A command whose usage takes no arguments points at its own help too.
    expectOneLineFailure(kiln('passwd', 'x'), 2, /\(see kiln passwd --help\)$/m);
  });

  it('a flag of kiln verify or kiln backup given twice: usage (2) (the last one was kept: verify checked the second stripe only, backup wrote the second file)', () => {
    expectOneLineFailure(kiln('verify', '--config', 'kiln.json', '--stripe', 'a', '--stripe', 'b'), 2, /^kiln: --stripe is given twice \(see kiln verify --help\)$/m);
    expectOneLineFailure(kiln('backup', '--url', 'tcp://127.0.0.1:1', '--out', 'a.kbak', '--out', 'b.kbak'), 2, /^kiln: --out is given twice \(see kiln backup --help\)$/m);
  });

  it('a config file that is not there or not JSON: config (3)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'broken.json'), '{ "cluster": ');
    expectOneLineFailure(kiln('start', '--config', join(dir, 'missing.json')), 3, /cannot read .*missing\.json/);
    expectOneLineFailure(kiln('start', '--config', join(dir, 'broken.json')), 3, /broken\.json: is not valid JSON/);
    // A file that is no JSON at all (a README given by mistake): its first lines were quoted as they are, over several lines.
    await writeFile(join(dir, 'notes.md'), '# Notes\n\nNot a cluster file.\n');
    expectOneLineFailure(kiln('start', '--config', join(dir, 'notes.md')), 3, /notes\.md: is not valid JSON: .*"# Notes\\n\\nN/);
    expectOneLineFailure(kiln('status', '--config', join(dir, 'missing.json')), 3, /cannot read .*missing\.json/);
  });

  it('a config file that starts with a byte order mark reads as the same file without it', async () => {
    // JSON.parse refused the mark with a message whose culprit does not print.
    const dir = await tempDir();
    await writeFile(join(dir, 'bom.json'), `\uFEFF${readFileSync(new URL('../examples/two-stripes.json', import.meta.url), 'utf8')}`);
    const run = kiln('stripe-of', 'orders-1', '--config', join(dir, 'bom.json'));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^slot \d+ stripe \w+$/m);
  });

  it('a config file with a value nested too deep to print: config (3), naming the field', async () => {
    // The message quoting the value recursed as deep as the value and crashed with a stack (exit 1).
    const dir = await tempDir();
    await writeFile(join(dir, 'deep.json'), `{ "cluster": "c", "stripes": ${'['.repeat(100_000)}${']'.repeat(100_000)} }`);
    expectOneLineFailure(kiln('stripe-of', 'x', '--config', join(dir, 'deep.json')), 3, /^kiln: ConfigError: stripes\[0\]: must be an object, got an array$/m);
  });

  it('kiln txn without list or resolve: usage (2), saying that (it asked for the --config given)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'cluster.json'), readFileSync(new URL('../examples/two-stripes.json', import.meta.url), 'utf8'));
    expectOneLineFailure(kiln('txn', '--config', join(dir, 'cluster.json')), 2, /^kiln: kiln txn needs list or resolve \(see kiln txn --help\)$/m);
    expectOneLineFailure(kiln('txn'), 2, /^kiln: kiln txn needs list or resolve \(see kiln txn --help\)$/m);
    expectOneLineFailure(kiln('txn', 'lsit', '--config', join(dir, 'cluster.json')), 2, /^kiln: kiln txn needs list or resolve, not 'lsit' \(see kiln txn --help\)$/m);
    // A flag given twice: the last --config was the one asked, and --abort --abort passed.
    expectOneLineFailure(kiln('txn', 'list', '--config', 'elsewhere.json', '--config', join(dir, 'cluster.json')), 2, /^kiln: --config is given twice \(see kiln txn --help\)$/m);
    expectOneLineFailure(kiln('txn', 'resolve', 'a#1/0.1.1', '--abort', '--abort', '--config', join(dir, 'cluster.json')), 2, /^kiln: --abort is given twice \(see kiln txn --help\)$/m);
  });

  it('an unknown server or voter name, and a certificate that cannot be read: config (3)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'cluster.json');
    const tls = (name: string) => ({ certFile: `${name}.pem`, keyFile: `${name}-key.pem` });
    await writeFile(
      file,
      JSON.stringify({
        cluster: 'c',
        persistence: 'memory',
        tls: { caFile: 'ca.pem' },
        // Fixed ports that nothing binds: each start fails before it listens.
        servers: [{ name: 'a', listen: ['tls://127.0.0.1:7498'], peer: 'tls://127.0.0.1:7499', tls: tls('a') }],
      }),
    );
    expectOneLineFailure(kiln('start', '--config', file, '--server', 'zz'), 3, /no server is named 'zz'/);
    expectOneLineFailure(kiln('voter', '--config', file, '--name', 'zz'), 3, /no voter is named 'zz'/);
    // The flag the user typed is the one named (admin said --server, which it does not take).
    const threeServers = fileURLToPath(new URL('../examples/three-servers.json', import.meta.url));
    expectOneLineFailure(kiln('admin', 'add-mirror', '--config', threeServers, '--name', 'zz'), 3, /ConfigError: --name: no server is named 'zz'/);
    expectOneLineFailure(kiln('start', '--config', file, '--server', 'a'), 3, /tls\.caFile: cannot read .*ca\.pem/);
  });

  it('an address in use: in use (4)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const { port } = blocker.address() as AddressInfo;
    expectOneLineFailure(kiln('start', '--memory', '--listen', `tcp://127.0.0.1:${port}`), 4, new RegExp(`address in use: 127\\.0\\.0\\.1:${port}`));
  });

  it('a data directory another kiln process holds: in use (4)', async () => {
    const dataDir = join(await tempDir(), 'data');
    await startKiln({ dataDir });
    expectOneLineFailure(kiln('start', '--data', dataDir, '--listen', 'tcp://127.0.0.1:0'), 4, /another process .* holds its lock/);
  });

  it('a server that does not answer: unreachable (5)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    await new Promise((resolve) => blocker.close(resolve));
    expectOneLineFailure(kiln('status', `tcp://127.0.0.1:${port}`), 5, /ConnectionRefusedError/);
  });

  it('kiln status --config of a cluster none of whose members answers: unreachable (5) after the table (it exited 0)', async () => {
    const closedPort = async (): Promise<number> => {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const { port } = blocker.address() as AddressInfo;
      await new Promise((resolve) => blocker.close(resolve));
      return port;
    };
    const at = async (): Promise<string> => `tcp://127.0.0.1:${await closedPort()}`;
    const file = join(await tempDir(), 'cluster.json');
    const servers = [{ name: 's1', listen: [await at()], peer: await at() }, { name: 's2', listen: [await at()], peer: await at() }];
    await writeFile(file, JSON.stringify({ cluster: 'down', persistence: 'memory', servers, voters: [{ name: 'v1', peer: await at() }] }));
    const result = kiln('status', '--config', file);
    expectOneLineFailure(result, 5, /^kiln: no server or voter of cluster down answered$/m);
    expect(result.stdout).toMatch(/^s1 +unreachable /m);
  });

  it('a URL with its scheme left out or its port mistyped: config (3), saying which (it said only "not a URL")', () => {
    expectOneLineFailure(kiln('status', '127.0.0.1:7410'), 3, /ConfigError: URL: '127\.0\.0\.1:7410' is not a URL: it has no scheme; write 'tcp:\/\/127\.0\.0\.1:7410'$/m);
    expectOneLineFailure(kiln('status', 'localhost:7410'), 3, /write 'tcp:\/\/localhost:7410'$/m);
    expectOneLineFailure(kiln('status', 'tcp://127.0.0.1:74100'), 3, /port 74100 is past 65535$/m);
    expectOneLineFailure(kiln('start', '--memory', '--listen', '127.0.0.1:0'), 3, /ConfigError: --listen\[0\]: .*write 'tcp:\/\/127\.0\.0\.1:0'$/m);
    // --http takes the file's rule for an http address: the same hints, and no path after the port.
    expectOneLineFailure(kiln('start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--http', 'http://127.0.0.1:99999'), 3, /ConfigError: --http: .*port 99999 is past 65535$/m);
    expectOneLineFailure(kiln('start', '--memory', '--listen', 'tcp://127.0.0.1:0', '--http', 'http://127.0.0.1:0/metrics'), 3, /ConfigError: --http: .*must end at the port/);
  });

  it('a host name that does not resolve: unreachable (5), saying so (it read as a refusal)', () => {
    expectOneLineFailure(kiln('status', 'tcp://no-such-host.invalid:7410'), 5, /ConnectionRefusedError: connection to tcp:\/\/no-such-host\.invalid:7410 refused: (no such host|the host name could not be looked up now)$/m);
  });
});

describe('paths in a config file', () => {
  it('are relative to the file, not to the working directory', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'conf'));
    const single = join(dir, 'conf', 'single.json');
    await writeFile(single, JSON.stringify({ name: 'solo', dataDir: './solo-data', listen: ['tcp://127.0.0.1:0'] }));
    const solo = await startKiln({ args: ['--config', single] });
    expect(await solo.waitForLine(/restartable mode/)).toContain(`data in ${join(dir, 'conf', 'solo-data')}`);
    await solo.stop();

    const cluster = join(dir, 'conf', 'cluster.json');
    await writeFile(cluster, JSON.stringify({ cluster: 'c', persistence: 'restartable', servers: [{ name: 'a', listen: ['tcp://127.0.0.1:0'], dataDir: 'a-data' }] }));
    const a = await startKiln({ args: ['--config', cluster] });
    expect(await a.waitForLine(/restartable mode/)).toContain(`data in ${join(dir, 'conf', 'a-data')}`);
    expect(existsSync(join(dir, 'conf', 'a-data'))).toBe(true);
    await a.stop();
  });
});

describe('--log-format json', () => {
  it('writes one JSON object per line: time, level, member, msg', async () => {
    const { lines } = await startKiln({ name: 'jay', extraArgs: ['--log-format', 'json'] });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry).toMatchObject({ level: 'info', member: 'jay', msg: expect.any(String) });
      expect(Date.parse(entry.time as string)).not.toBeNaN();
    }
  });
});
