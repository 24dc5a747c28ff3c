/**
 * The run's side of tests/helpers/pg.ts (a vitest global setup): it hands the test files CI as the
 * run started (tests/helpers/setup.ts unsets it in the test processes) and a folder where each file
 * that skipped a PostgreSQL suite leaves a note, and at the end of the run prints one line for all
 * of them instead of one per file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { notAnsweringLine } from './pg-mode.js';

export default function setup(project: TestProject): () => void {
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dreamos-pg-run-'));
  project.provide('dreamosPg', { ci: process.env.CI ?? '', reportDir });
  return () => {
    const notes = fs.readdirSync(reportDir);
    const urls = new Set(notes.map((n) => fs.readFileSync(path.join(reportDir, n), 'utf8').trim()));
    fs.rmSync(reportDir, { recursive: true, force: true });
    for (const url of urls) process.stderr.write(`${notAnsweringLine(url, 'skip')}\n`);
  };
}
