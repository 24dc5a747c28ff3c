/** The scout's pure parts: its config section, the rules, item hashes and the seen-store's retention. */

import { describe, expect, it } from 'vitest';
import { Config } from '../../../src/config.js';
import { type FetchedSource, ScoutConfig } from '../../../src/scout/config.js';
import { isLocalHost } from '../../../src/scout/http.js';
import { belowScore, compileRules } from '../../../src/scout/rules.js';
import { pluginItemKey } from '../../../src/scout/run.js';
import { sourceUrl } from '../../../src/scout/sources.js';
import { forgetOld, itemHash, type ScoutFile } from '../../../src/scout/store.js';

const rules = (raw: unknown) =>
  ScoutConfig.parse({ sources: [{ id: 's', kind: 'hn', query: 'q', rules: raw }] }).sources[0]!.rules;

describe('scout config', () => {
  it('reads intervals as durations and fills the defaults', () => {
    const scout = ScoutConfig.parse({
      sources: [
        { id: 'a', kind: 'rss', url: 'https://example.com/feed', interval: '15m' },
        { id: 'b', kind: 'github-issues', repo: 'o/r', interval: 90 },
      ],
    });
    expect(scout.sources.map((s) => s.interval)).toEqual([900, 90]);
    expect(scout.sources[0]).toMatchObject({ maxTasksPerRun: 10, enabled: true, priority: 'normal' });
    expect(scout).toMatchObject({ maxBytes: 5 * 1024 * 1024, maxRedirects: 3, failuresBeforeAlert: 3 });
  });

  it('refuses a bad pattern, a non-http address, a duplicate id and a source role no agent has', () => {
    const accepted = (scout: unknown) => ScoutConfig.safeParse(scout).success;
    expect(accepted({ sources: [{ id: 'a', kind: 'hn', query: 'q', rules: { patterns: ['(x'] } }] })).toBe(
      false,
    );
    // A nested repetition can take exponential time on a hostile item: refused with a clear reason.
    const nested = ScoutConfig.safeParse({
      sources: [{ id: 'a', kind: 'hn', query: 'q', rules: { patterns: ['(\\w+\\s?)+$'] } }],
    });
    expect(nested.success).toBe(false);
    expect(JSON.stringify(nested.error?.issues)).toContain('repeated group inside a repetition');
    expect(
      accepted({
        sources: [{ id: 'a', kind: 'hn', query: 'q', rules: { patterns: ['cve-\\d{4}', 'bug|crash'] } }],
      }),
    ).toBe(true);
    expect(accepted({ sources: [{ id: 'a', kind: 'rss', url: 'file:///etc/passwd' }] })).toBe(false);
    expect(accepted({ sources: [{ id: 'a', kind: 'rss', url: 'https://x/', interval: 'soon' }] })).toBe(
      false,
    );
    expect(
      accepted({
        sources: [
          { id: 'a', kind: 'hn', query: 'q' },
          { id: 'a', kind: 'hn', query: 'r' },
        ],
      }),
    ).toBe(false);
    const config = Config.safeParse({
      schemaVersion: 1,
      agents: [],
      scout: { sources: [{ id: 'a', kind: 'hn', query: 'q', role: 'ghost' }] },
    });
    expect(config.success).toBe(false);
    expect(config.error?.issues[0]?.message).toBe('no agent has the role or id ghost');
  });
});

describe('scout addresses', () => {
  it("puts the services' paths under their base addresses, path included", () => {
    const scout = ScoutConfig.parse({
      githubBaseUrl: 'https://ghe.example.com/api/v3',
      hnBaseUrl: 'http://127.0.0.1:9/hn/',
      sources: [
        { id: 'gh', kind: 'github-issues', repo: 'o/r', labels: ['bug', 'help wanted'] },
        { id: 'hn', kind: 'hn', query: 'type script' },
      ],
    });
    expect(sourceUrl(scout.sources[0] as FetchedSource, scout)).toBe(
      'https://ghe.example.com/api/v3/repos/o/r/issues?state=open&per_page=100&labels=bug%2Chelp+wanted',
    );
    expect(sourceUrl(scout.sources[1] as FetchedSource, scout)).toBe(
      'http://127.0.0.1:9/hn/api/v1/search_by_date?tags=story&query=type+script&hitsPerPage=100',
    );
    expect(
      ScoutConfig.safeParse({ sources: [{ id: 'gh', kind: 'github-issues', repo: 'o/..' }] }).success,
    ).toBe(false);
  });
});

describe('scout rules', () => {
  it('matches keywords and patterns case-insensitively, and drops excluded items', () => {
    const match = compileRules(
      rules({ keywords: ['Rust'], patterns: ['cve-\\d{4}'], exclude: ['sponsored'] }),
    );
    expect(match({ title: 'RUST 2.0', text: '' })).toBe(true);
    expect(match({ title: 'advisory', text: 'fixes CVE-2026 in libfoo' })).toBe(true);
    expect(match({ title: 'rust jobs', text: 'Sponsored' })).toBe(false);
    expect(match({ title: 'go 2.0', text: '' })).toBe(false);
  });

  it('takes every item without keywords or patterns, and looks at a bounded text only', () => {
    expect(compileRules(rules({}))({ title: 'anything', text: '' })).toBe(true);
    const far = compileRules(rules({ keywords: ['needle'] }));
    expect(far({ title: 't', text: `${'x'.repeat(20_000)} needle` })).toBe(false);
  });

  it('holds back an item below the minimum score, and only items that have one', () => {
    const r = rules({ minScore: 10 });
    expect(belowScore(r, { title: '', text: '', score: 9 })).toBe(true);
    expect(belowScore(r, { title: '', text: '', score: 10 })).toBe(false);
    expect(belowScore(rules({}), { title: '', text: '' })).toBe(false);
    // A feed item has no score: the minimum does not hold it back.
    expect(belowScore(r, { title: '', text: '' })).toBe(false);
  });
});

describe('the seen-store', () => {
  it('hashes an item by its source and guid', () => {
    expect(itemHash('a', 'g')).toMatch(/^[0-9a-f]{24}$/);
    expect(itemHash('a', 'g')).toBe(itemHash('a', 'g'));
    expect(itemHash('a', 'g')).not.toBe(itemHash('b', 'g'));
  });

  it('forgets items first seen before the retention period', () => {
    const now = new Date('2026-06-30T00:00:00Z');
    const file: ScoutFile = {
      schemaVersion: 1,
      sources: {},
      seen: {
        [itemHash('s', 'old')]: '2026-03-01T00:00:00.000Z',
        [itemHash('s', 'new')]: '2026-06-29T00:00:00.000Z',
      },
    };
    forgetOld(file, now, 90);
    expect(Object.keys(file.seen)).toEqual([itemHash('s', 'new')]);
  });
});

describe('plugin sources', () => {
  it('are named in config.json by plugin and source, once each', () => {
    const entry = { id: 'mine', kind: 'plugin', plugin: 'leads', source: 'news' };
    expect(ScoutConfig.parse({ sources: [entry] }).sources[0]).toMatchObject({
      ...entry,
      interval: 3600,
      maxTasksPerRun: 10,
    });
    const twice = ScoutConfig.safeParse({ sources: [entry, { ...entry, id: 'again' }] });
    expect(twice.success).toBe(false);
    expect(twice.error?.issues[0]?.message).toBe('plugin source leads/news is named by two sources');
    expect(ScoutConfig.safeParse({ sources: [{ ...entry, plugin: 'Leads!' }] }).success).toBe(false);
  });

  it("keep an item's own key when it fits a dedupe key, and hash it when not", () => {
    expect(pluginItemKey('leads', 'news', 'https://example.com/1')).toBe(
      'plugin:leads:news:https://example.com/1',
    );
    const long = 'k'.repeat(300);
    expect(pluginItemKey('leads', 'news', long)).toMatch(/^plugin:leads:news:#[0-9a-f]{24}$/);
    expect(pluginItemKey('leads', 'news', long)).toBe(pluginItemKey('leads', 'news', long));
    expect(pluginItemKey('leads', 'news', 'two\nlines')).toMatch(/^plugin:leads:news:#[0-9a-f]{24}$/);
  });
});

describe('isLocalHost', () => {
  it('knows the addresses of this machine and of private networks, by address or by name', async () => {
    for (const host of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '[::1]',
      '::ffff:127.0.0.1',
      'localhost',
    ])
      expect(await isLocalHost(host), host).toBe(true);
    for (const host of ['93.184.216.34', '8.8.8.8', '[2606:4700::1111]'])
      expect(await isLocalHost(host), host).toBe(false);
  });
});
