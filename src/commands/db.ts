/** `dreamos db migrate | import | export`: the PostgreSQL backend's schema, and moving state to and from it. */
import fs from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { commonFolders, WORKSPACE_DIR, type WorkspacePaths, workspacePaths } from '../../state/paths.js';
import {
  exportWorkspace,
  importWorkspace,
  migrateWorkspace,
  shownUrl,
  type TransferResult,
} from '../../state/pg/index.js';
import { privateDir } from '../../state/safe-files.js';
import { writeFileDurable } from '../../state/store.js';
import { Config, configJsonSchema } from '../config.js';
import { DreamError } from '../errors.js';
import { emit, plural } from '../output.js';
import { backendNameOf, findWorkspace, prepareProject, readConfig, writeConfig } from '../workspace-home.js';
import { checkStoreOption, globals } from './common.js';

/** A folder as given: the project folder or its `.dreamos`; returns the `.dreamos` path. */
const homeIn = (dir: string) => {
  const abs = resolve(dir);
  return basename(abs) === WORKSPACE_DIR ? abs : join(abs, WORKSPACE_DIR);
};

/** The workspace the command is run in, which must keep its state in PostgreSQL. */
function postgresWorkspace(command: Command, what: string): WorkspacePaths {
  const paths = workspacePaths(findWorkspace(globals(command).home ? { home: globals(command).home! } : {}));
  const backend = backendNameOf(paths);
  if (backend !== 'postgres')
    throw new DreamError(
      'E_USAGE',
      `dreamos db ${what} applies to PostgreSQL workspaces only; ${paths.home} keeps its state in ${backend} (see docs/postgres.md)`,
    );
  return paths;
}

/** The rest of a new workspace folder, around state that is in place already: config.json last. */
async function finishWorkspace(paths: WorkspacePaths, config: Config): Promise<void> {
  for (const dir of [paths.home, ...commonFolders(paths)]) privateDir(dir);
  writeFileDurable(paths.configSchema, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  await writeConfig(paths, config);
}

const describeCounts = (counts: TransferResult['counts']) =>
  `${counts.tasks} tasks, ${counts.archive} archived, ${counts.alerts} alerts, ${counts.agents} agents, ${counts.mail} messages, ${counts.checkpoints} checkpoints, ${counts.journal} journal entries`;

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description("the PostgreSQL backend's schema, and moving a workspace to and from it");

  db.command('migrate')
    .description("bring the workspace's PostgreSQL schema to this Dream.OS's version")
    .action(async (_o, command: Command) => {
      const options = globals(command);
      const paths = postgresWorkspace(command, 'migrate');
      const { from, to, applied, location } = await migrateWorkspace(paths);
      const url = shownUrl(location.url);
      const where = `schema ${location.schema} at ${url}`;
      emit(options, { schema: location.schema, url, from, to, applied }, () =>
        applied.length === 0
          ? `${where}: already at version ${to}`
          : `${where}: version ${from} → ${to}, applied: ${applied.map((m) => `${m.version} (${m.name})`).join(', ')}`,
      );
    });

  db.command('import')
    .description("copy a JSON workspace's whole state into this workspace's (empty) PostgreSQL schema")
    .requiredOption('--from <dir>', 'the JSON workspace: its project folder or its .dreamos')
    .option(
      '--store <url>',
      'for a new workspace here: the server, postgres://user@host:port/db (no password)',
    )
    .option('--schema <name>', 'for a new workspace here: the schema (default dreamos)')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const source = workspacePaths(homeIn(o.from));
      if (!fs.existsSync(source.config))
        throw new DreamError('E_NO_WORKSPACE', `no Dream.OS workspace at ${source.home}`);
      const home = homeIn(options.home ?? process.env.DREAMOS_HOME ?? process.cwd());
      let result: TransferResult;
      if (fs.existsSync(join(home, 'config.json'))) {
        if (o.store || o.schema)
          throw new DreamError(
            'E_USAGE',
            `${home} is a workspace already: its config.json says where its state is, not --store or --schema`,
          );
        const paths = postgresWorkspace(command, 'import');
        if (paths.home === source.home) throw new DreamError('E_USAGE', '--from names this workspace itself');
        result = await importWorkspace(paths, source);
      } else {
        // A new workspace: the source's configuration, its state in PostgreSQL.
        checkStoreOption(o.store);
        if (!o.store && !process.env.DREAMOS_STORE)
          throw new DreamError(
            'E_USAGE',
            `${home} is no workspace yet: say which server to import into with --store postgres://… (or DREAMOS_STORE)`,
          );
        const state = {
          backend: 'postgres',
          ...(o.store ? { url: o.store as string } : {}),
          ...(o.schema ? { schema: o.schema as string } : {}),
        };
        const config = Config.parse({ ...readConfig(source), state });
        const paths = workspacePaths(home);
        const project = resolve(home, '..');
        const existed = fs.existsSync(project);
        prepareProject(project);
        try {
          result = await importWorkspace(paths, source, state);
        } catch (error) {
          // A refused import leaves behind no folder it made; rmdir removes only an empty one.
          if (!existed) fs.rmdirSync(project);
          throw error;
        }
        await finishWorkspace(paths, config);
      }
      emit(
        options,
        { from: source.home, schema: result.location.schema, counts: result.counts },
        () =>
          `imported ${source.home} into schema ${result.location.schema}: ${describeCounts(result.counts)}`,
      );
    });

  db.command('export')
    .description('write this PostgreSQL workspace as a new JSON workspace in DIR/.dreamos')
    .requiredOption('--to <dir>', 'the folder to hold the new .dreamos (it must not have one)')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const paths = postgresWorkspace(command, 'export');
      const target = workspacePaths(homeIn(o.to));
      if (fs.existsSync(target.home))
        throw new DreamError('E_CONFLICT', `${target.home} exists already: export into a new folder`);
      const config = Config.parse({ ...readConfig(paths), state: { backend: 'json' } });
      prepareProject(resolve(target.home, '..'));
      const result = await exportWorkspace(paths, target);
      await finishWorkspace(target, config);
      const pruned = result.pruned ?? [];
      emit(
        options,
        { to: target.home, schema: result.location.schema, counts: result.counts, pruned },
        () =>
          `exported schema ${result.location.schema} to ${target.home}: ${describeCounts(result.counts)}${
            pruned.length > 0
              ? `; ${plural(pruned.length, 'archived task')} deleted by archive retention before the export ${pruned.length === 1 ? 'is' : 'are'} not in it (the journal keeps ${pruned.length === 1 ? 'its' : 'their'} history)`
              : ''
          }`,
      );
    });
}
