/**
 * An example plugin: a source of work. Each unchecked item of a Markdown checklist becomes an item
 * the scout may turn into a task (after the operator approves it, unless its policy says otherwise).
 *
 * Copy it to .dreamos/plugins/todo-source.mjs; it reads TODO.md in the folder the process runs in
 * (or the file DREAMOS_TODO_FILE names). A line such as
 *
 *   - [ ] Add a --since option to `dreamos log`
 *
 * is one item; its key is the line's text, so the same line is never offered twice. The scout reads
 * it as the source `todo-source/todo` (`dreamos scout run`, and `dreamos run` every 5 minutes), and
 * its tasks wait for approval. To give it rules, a role or a cap, name it in config.json's
 * scout.sources: { "id": "todo", "kind": "plugin", "plugin": "todo-source", "source": "todo", … }
 * (docs/scout.md#plugin-sources).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { definePlugin } from 'dreamos';

const file = resolve(process.env.DREAMOS_TODO_FILE ?? 'TODO.md');

export default definePlugin({
  name: 'todo-source',
  version: '1.0.0',
  description: 'unchecked items of a Markdown checklist',
  sources: [
    {
      id: 'todo',
      description: `unchecked "- [ ]" lines of ${file}`,
      intervalSeconds: 300,
      async fetch() {
        let text;
        try {
          text = await readFile(file, 'utf8');
        } catch (error) {
          if (error.code === 'ENOENT') return [];
          throw error;
        }
        return text
          .split('\n')
          .map((line) => /^\s*[-*] \[ \] (.+)$/.exec(line)?.[1]?.trim())
          .filter(Boolean)
          .map((title) => ({ key: `todo:${title}`, title: title.slice(0, 1000) }));
      },
    },
  ],
});
