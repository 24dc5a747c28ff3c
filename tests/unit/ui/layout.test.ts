import { describe, expect, test } from 'vitest';
import { computeLayout, MIN_SIZE, windowStart } from '../../../ui/layout.js';

// columns, rows → too small, dashboard mode, panes across, log lines per pane, board columns shown, detail split
const TABLE: Array<[number, number, boolean, 'grid' | 'compact', number, number, number, boolean]> = [
  [60, 20, true, 'compact', 1, 0, 2, false],
  [79, 24, true, 'compact', 1, 0, 3, false],
  [80, 23, true, 'compact', 1, 0, 3, false],
  [80, 24, false, 'compact', 1, 0, 3, false],
  [100, 30, false, 'grid', 2, 1, 4, false],
  [100, 40, false, 'grid', 2, 3, 4, false],
  [120, 40, false, 'grid', 3, 6, 5, true],
  [160, 48, false, 'grid', 4, 15, 6, true],
  [200, 60, false, 'grid', 4, 21, 6, true],
  [300, 100, false, 'grid', 4, 41, 6, true],
];

describe('layout is a pure function of the terminal size', () => {
  test.each(TABLE)('%i×%i', (columns, rows, tooSmall, mode, across, logLines, boardColumns, split) => {
    const layout = computeLayout({ columns, rows });
    expect(layout.tooSmall).toBe(tooSmall);
    expect(layout.dashboard.mode).toBe(mode);
    expect(layout.dashboard.across).toBe(across);
    expect(layout.dashboard.logLines).toBe(logLines);
    expect(layout.board.columnsVisible).toBe(boardColumns);
    expect(layout.detail.split).toBe(split);
  });

  test.each(TABLE)('%i×%i fits: nothing is taller or wider than the terminal', (columns, rows) => {
    const l = computeLayout({ columns, rows });
    expect(l.height).toBe(Math.max(1, rows - 1));
    expect(l.body.height + 3).toBeLessThanOrEqual(l.height);
    const d = l.dashboard;
    expect(d.across * d.paneWidth).toBeLessThanOrEqual(columns);
    const panes = d.mode === 'grid' ? d.gridRows * d.paneHeight : d.gridRows;
    expect(panes + 1 + d.alertRows).toBe(l.body.height);
    expect(l.board.columnsVisible * l.board.columnWidth).toBeLessThanOrEqual(columns);
    expect(l.detail.sideWidth + (l.detail.split ? l.detail.mainWidth : 0)).toBeLessThanOrEqual(columns);
  });

  test('the number of agents shapes the dashboard', () => {
    expect(computeLayout({ columns: 160, rows: 48 }, 2).dashboard).toMatchObject({ across: 2, gridRows: 1 });
    expect(computeLayout({ columns: 160, rows: 48 }, 12).dashboard).toMatchObject({ across: 4, gridRows: 3 });
    expect(computeLayout({ columns: 160, rows: 48 }, 40).dashboard.mode).toBe('compact');
    expect(computeLayout({ columns: 160, rows: 48 }, 0).dashboard.mode).toBe('compact');
  });

  test('the minimum size is 80×24', () => {
    expect(MIN_SIZE).toEqual({ columns: 80, rows: 24 });
    expect(computeLayout({ columns: Number.NaN, rows: 0 }).tooSmall).toBe(true);
  });

  test('windowStart keeps the cursor in view', () => {
    expect(windowStart(0, 10_000, 40)).toBe(0);
    expect(windowStart(5000, 10_000, 40)).toBe(4980);
    expect(windowStart(9999, 10_000, 40)).toBe(9960);
    expect(windowStart(3, 5, 40)).toBe(0);
  });
});
