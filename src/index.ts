/** The library entry: `import { openWorkspace } from 'dreamos'`. */
export { ROLES } from '../agents/roles.js';
export type { RecoveryNotice, StateBackend, StateView } from '../state/backend.js';
export type { Alert, Priority, Status, Task } from '../state/schemas.js';
export { type AgentConfig, Config, type Driver, type Policies } from './config.js';
export { type DoctorReport, doctor } from './doctor.js';
export { DreamError, ExitCode } from './errors.js';
export type { TaskInput } from './task-input.js';
export {
  findWorkspace,
  initWorkspace,
  type OpenOptions,
  openWorkspace,
  type TaskFilter,
  Workspace,
} from './workspace.js';
