/**
 * The screen layout as a pure function of the terminal size (and the number of agents), tested as
 * a table. Components only read the numbers from here; below MIN_SIZE the console says so instead.
 */

export interface Size {
  columns: number;
  rows: number;
}

export const MIN_SIZE: Size = { columns: 80, rows: 24 };
export const HEADER_ROWS = 1;
/** The flash/status line and the help bar. */
export const FOOTER_ROWS = 2;
/** A board column is never narrower than this. */
export const MIN_BOARD_COLUMN = 24;
export const STAGE_COUNT = 6;

export interface Layout {
  size: Size;
  tooSmall: boolean;
  width: number;
  /** Rows drawn: one less than the terminal, so that Ink updates lines in place instead of clearing. */
  height: number;
  body: { width: number; height: number };
  dashboard: {
    mode: 'grid' | 'compact';
    across: number;
    gridRows: number;
    paneWidth: number;
    paneHeight: number;
    logLines: number;
    alertRows: number;
  };
  board: { columnsVisible: number; columnWidth: number; rows: number };
  /** Rows of a full-height list (attention, journal), below its title and column header. */
  list: { rows: number };
  detail: { split: boolean; sideWidth: number; mainWidth: number; logLines: number };
  dialog: { width: number; rows: number };
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

/** Pane chrome: two border rows, the title line and the status line. */
const PANE_CHROME = 4;

/** One line per agent (gridRows of them, windowed when there are more agents than rows). */
function compact(agents: number, panesHeight: number, bodyHeight: number, width: number) {
  const gridRows = Math.max(1, Math.min(agents, panesHeight));
  return {
    mode: 'compact' as const,
    across: 1,
    gridRows,
    paneWidth: width,
    paneHeight: 1,
    logLines: 0,
    alertRows: Math.max(1, bodyHeight - 1 - gridRows),
  };
}

export function computeLayout(size: Size, agents = 8): Layout {
  const columns = Math.max(0, Math.floor(size.columns || 0));
  const rows = Math.max(0, Math.floor(size.rows || 0));
  const tooSmall = columns < MIN_SIZE.columns || rows < MIN_SIZE.rows;
  const width = columns;
  const height = Math.max(1, rows - 1);
  const body = { width, height: Math.max(1, height - HEADER_ROWS - FOOTER_ROWS) };

  const alertRows = body.height >= 36 ? 4 : body.height >= 26 ? 2 : 1;
  const panesHeight = Math.max(0, body.height - 1 - alertRows);
  const across = clamp(width >= 160 ? 4 : width >= 120 ? 3 : width >= 90 ? 2 : 1, 1, Math.max(1, agents));
  const gridRows = Math.ceil(agents / across);
  const paneHeight = gridRows ? Math.floor(panesHeight / gridRows) : 0;
  const grid = agents > 0 && paneHeight - PANE_CHROME >= 1;
  const dashboard = grid
    ? {
        mode: 'grid' as const,
        across,
        gridRows,
        paneWidth: Math.floor(width / across),
        paneHeight,
        logLines: paneHeight - PANE_CHROME,
        // Rows the grid leaves over go to the attention lines.
        alertRows: body.height - 1 - gridRows * paneHeight,
      }
    : compact(agents, panesHeight, body.height, width);

  const columnsVisible = clamp(Math.floor(width / MIN_BOARD_COLUMN), 1, STAGE_COUNT);
  const board = {
    columnsVisible,
    columnWidth: Math.floor(width / columnsVisible),
    rows: Math.max(1, body.height - 2),
  };

  const split = width >= 120;
  const sideWidth = split ? Math.floor(width * 0.45) : width;
  const detail = {
    split,
    sideWidth,
    mainWidth: split ? width - sideWidth : width,
    logLines: Math.max(1, split ? body.height - 2 : Math.floor(body.height / 2) - 1),
  };

  return {
    size: { columns, rows },
    tooSmall,
    width,
    height,
    body,
    dashboard,
    board,
    list: { rows: Math.max(1, body.height - 2) },
    detail,
    dialog: { width: clamp(width - 4, 20, 96), rows: Math.max(3, body.height - 2) },
  };
}

/** The first visible row of a list so that `cursor` stays in view (cursor kept near the middle). */
export function windowStart(cursor: number, total: number, visible: number): number {
  if (total <= visible) return 0;
  return clamp(cursor - Math.floor(visible / 2), 0, total - visible);
}
