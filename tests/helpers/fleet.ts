/**
 * A fleet on one machine: a PostgreSQL server of the test's own and several "hosts", each a network
 * namespace joined to the server by a veth pair on a bridge, each with its own workspace folder and
 * its own `dreamos run`. The test can cut a host off (its veth down), restart the server, kill a
 * host's orchestrator, and read the journal with SQL.
 *
 * Everything made here (namespaces, links, the server, temporary folders) is recorded as it is made
 * and removed by `teardown()`, which is safe to call after a failure at any step. Names carry this
 * process's id, so that what a killed run left can be recognised and removed by the next one.
 *
 * Needs root, `ip` and PostgreSQL's initdb: `fleetUnavailable()` says why it cannot run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BIN, collectOutput, writePolicies } from './workspace.js';

export const PG_BIN = process.env.DREAMOS_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The prefix of every namespace and link a fleet makes (short: a link name has at most 15 bytes). */
const PREFIX = 'dfl';

/** Why a fleet cannot run here, or null when it can. */
export function fleetUnavailable(): string | null {
  if (process.platform !== 'linux') return 'a fleet needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'a fleet needs root (network namespaces, veth pairs)';
  if (!onPath('ip')) return 'a fleet needs `ip` (iproute2)';
  if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) return `a fleet needs PostgreSQL's initdb in ${PG_BIN}`;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'a fleet needs a `postgres` user to run its server as';
  }
  return null;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => fs.existsSync(path.join(dir, command)));
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Run `ip`, ignoring failure: for removing what may not exist. */
function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove the namespaces and links a fleet run left when its process died before its teardown. */
export function removeLeftovers(): void {
  const owner = (name: string) => {
    const match = new RegExp(`^${PREFIX}([0-9a-z]+)[bhv]`).exec(name);
    return match ? Number.parseInt(match[1]!, 36) : null;
  };
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
  for (const ns of namespaces) {
    const pid = owner(ns);
    if (pid !== null && pid !== process.pid && !alive(pid)) ipQuiet('netns', 'delete', ns);
  }
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter(Boolean);
  for (const link of links) {
    const pid = owner(link);
    if (pid !== null && pid !== process.pid && !alive(pid)) ipQuiet('link', 'delete', link);
  }
}

/** A TCP port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A /24 of 10.0.0.0/8 that no interface of this machine is on. */
function freeSubnet(): string {
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  for (;;) {
    const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
}

/** What teardown undoes, last made first. */
type Undo = { what: string; run: () => void | Promise<void> };

export interface FleetHost {
  /** 1-based. */
  index: number;
  namespace: string;
  /** The root namespace's end of the host's veth pair: down cuts the host off. */
  link: string;
  address: string;
  /** The host's workspace folder (its .dreamos/ is `home`). */
  dir: string;
  home: string;
  agents: string[];
  /** The `dreamos run` in progress, or null. */
  run: HostRun | null;
}

export interface HostRun {
  child: ChildProcess;
  /** Every event the orchestrator printed (`dreamos run --json`). */
  events(): Array<Record<string, unknown>>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** How it ended, or null while it runs. */
  ended(): { code: number | null; signal: NodeJS.Signals | null } | null;
}

export interface FleetOptions {
  hosts: number;
  agentsPerHost: number;
  schema: string;
  /** Written into every host's config.json. */
  policies: Record<string, unknown>;
}

export class Fleet {
  readonly tag = `${PREFIX}${process.pid.toString(36)}`;
  readonly hosts: FleetHost[] = [];
  /** The bridge's address: where the server listens. */
  serverAddress = '';
  port = 0;
  dataDir = '';
  private readonly undo: Undo[] = [];
  private readonly runs = new Set<ChildProcess>();
  private tmp = '';

  constructor(readonly options: FleetOptions) {}

  /** postgres://postgres@<bridge>:<port>/fleet: the fleet's database, as every host reaches it. */
  get url(): string {
    return `postgres://postgres@${this.serverAddress}:${this.port}/fleet`;
  }

  /** The same database with the fleet's schema as the search path: for the test's own SQL. */
  get schemaUrl(): string {
    const url = new URL(this.url);
    url.searchParams.set('options', `-c search_path=${this.options.schema}`);
    return url.toString();
  }

  async start(): Promise<void> {
    removeLeftovers();
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dreamos-fleet-'));
    this.undo.push({
      what: 'temporary folder',
      run: () => fs.rmSync(this.tmp, { recursive: true, force: true }),
    });
    this.network();
    await this.startServer();
  }

  /** The bridge in the root namespace, and one namespace per host joined to it by a veth pair. */
  private network(): void {
    const subnet = freeSubnet();
    const bridge = `${this.tag}b`;
    ip('link', 'add', bridge, 'type', 'bridge');
    this.undo.push({ what: `bridge ${bridge}`, run: () => ipQuiet('link', 'delete', bridge) });
    this.serverAddress = `${subnet}.1`;
    ip('addr', 'add', `${this.serverAddress}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let index = 1; index <= this.options.hosts; index++) {
      const namespace = `${this.tag}h${index}`;
      const link = `${this.tag}v${index}`;
      const inner = `${this.tag}i${index}`;
      ip('netns', 'add', namespace);
      this.undo.push({ what: `namespace ${namespace}`, run: () => ipQuiet('netns', 'delete', namespace) });
      ip('link', 'add', link, 'type', 'veth', 'peer', 'name', inner);
      this.undo.push({ what: `link ${link}`, run: () => ipQuiet('link', 'delete', link) });
      ip('link', 'set', inner, 'netns', namespace);
      ip('link', 'set', link, 'master', bridge);
      ip('link', 'set', link, 'up');
      const address = `${subnet}.${10 + index}`;
      ip('-n', namespace, 'link', 'set', 'lo', 'up');
      ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', inner);
      ip('-n', namespace, 'link', 'set', inner, 'up');
      const dir = path.join(this.tmp, `host${index}`);
      fs.mkdirSync(dir, { mode: 0o700 });
      const first = (index - 1) * this.options.agentsPerHost + 1;
      const agents = Array.from({ length: this.options.agentsPerHost }, (_, i) => `agent-${first + i}`);
      this.hosts.push({
        index,
        namespace,
        link,
        address,
        dir,
        home: path.join(dir, '.dreamos'),
        agents,
        run: null,
      });
    }
  }

  /** initdb into a temporary folder, as the postgres user; listen on the bridge, fsync on. */
  private async startServer(): Promise<void> {
    this.dataDir = path.join(this.tmp, 'pgdata');
    fs.mkdirSync(this.dataDir, { mode: 0o700 });
    fs.chmodSync(this.tmp, 0o755);
    execFileSync('chown', ['postgres:', this.dataDir]);
    this.asPostgres(path.join(PG_BIN, 'initdb'), [
      '-D',
      this.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-instructions',
    ]);
    fs.appendFileSync(
      path.join(this.dataDir, 'pg_hba.conf'),
      `host all all ${this.serverAddress.replace(/\.1$/, '.0')}/24 trust\n`,
    );
    this.port = await freePort();
    this.undo.push({ what: 'PostgreSQL server', run: () => this.stopServer() });
    this.pgCtl('start');
    this.asPostgres(path.join(PG_BIN, 'createdb'), [
      '-h',
      this.serverAddress,
      '-p',
      String(this.port),
      '-U',
      'postgres',
      'fleet',
    ]);
  }

  private asPostgres(file: string, args: string[]): string {
    return execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  }

  private pgCtl(action: 'start' | 'restart' | 'stop', mode = 'fast'): void {
    const options = [
      `-c listen_addresses=${this.serverAddress}`,
      `-p ${this.port}`,
      `-c unix_socket_directories=${this.dataDir}`,
      '-c fsync=on',
      '-c max_connections=100',
    ].join(' ');
    this.asPostgres(path.join(PG_BIN, 'pg_ctl'), [
      action,
      '-D',
      this.dataDir,
      '-w',
      '-t',
      '60',
      '-m',
      mode,
      '-l',
      path.join(this.dataDir, 'server.log'),
      ...(action === 'stop' ? [] : ['-o', options]),
    ]);
  }

  /** `pg_ctl restart -m fast` of this fleet's server. */
  restartServer(): void {
    this.pgCtl('restart', 'fast');
  }

  private stopServer(): void {
    try {
      this.pgCtl('stop', 'immediate');
    } catch {
      // pg_ctl failed: end the postmaster by the pid it recorded
      try {
        const pid = Number(fs.readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // not running
      }
    }
  }

  /** A client of the fleet's database (schema on the search path), connected; the caller ends it. */
  async client(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.schemaUrl, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** `dreamos …` on a host: inside its namespace, in its folder. */
  dreamos(host: FleetHost, args: string[], env: Record<string, string> = {}): string {
    return execFileSync('ip', ['netns', 'exec', host.namespace, process.execPath, BIN, ...args], {
      cwd: host.dir,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
      maxBuffer: 256 * 1024 * 1024,
    });
  }

  /**
   * `dreamos init --backend postgres` on a host, then its config.json given this host's agents (shell
   * driver) and the fleet's policies. The first host creates the schema; the others join it.
   */
  init(host: FleetHost): void {
    this.dreamos(host, [
      'init',
      '--driver',
      'shell',
      '--backend',
      'postgres',
      '--store',
      this.url,
      '--schema',
      this.options.schema,
    ]);
    const file = path.join(host.home, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    const template = config.agents[0];
    config.agents = host.agents.map((id) => ({ ...template, id, name: id, role: 'worker' }));
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    writePolicies(host.home, this.options.policies);
  }

  /** Start `dreamos run --json` on a host, in its namespace, as the leader of its own process group. */
  startRun(host: FleetHost, env: Record<string, string> = {}): HostRun {
    const child = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, BIN, 'run', '--json'], {
      cwd: host.dir,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.runs.add(child);
    const output = collectOutput(child);
    let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => {
        this.runs.delete(child);
        ended = { code, signal };
        resolve(ended);
      });
    });
    const run: HostRun = {
      child,
      events: () =>
        output
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      stderr: output.stderr,
      exited,
      ended: () => ended,
    };
    host.run = run;
    return run;
  }

  /** SIGKILL a host's orchestrator and its process group. */
  async kill(host: FleetHost): Promise<void> {
    const run = host.run;
    if (!run?.child.pid) return;
    try {
      process.kill(-run.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await run.exited;
  }

  /** Stop a host's orchestrator as an operator would (SIGTERM) and wait for it to end. */
  async stop(host: FleetHost): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const run = host.run;
    if (!run?.child.pid) return { code: null, signal: null };
    run.child.kill('SIGTERM');
    return run.exited;
  }

  /** Cut a host off the network: its veth pair's root end goes down. */
  cut(host: FleetHost): void {
    ip('link', 'set', host.link, 'down');
  }

  heal(host: FleetHost): void {
    ip('link', 'set', host.link, 'up');
  }

  /** Remove everything: orchestrators still running, namespaces, links, the server, the folders. */
  async teardown(): Promise<string[]> {
    const failures: string[] = [];
    for (const child of this.runs) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    while (this.undo.length > 0) {
      const step = this.undo.pop()!;
      try {
        await step.run();
      } catch (error) {
        failures.push(`${step.what}: ${(error as Error).message}`);
      }
    }
    return failures;
  }
}
