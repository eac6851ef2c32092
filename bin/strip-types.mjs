/*
 * Loaded with --import by bin/esw.cjs when the sources sit under node_modules (an installed copy
 * of the package, such as the one pre-commit installs for its hook): Node strips TypeScript types
 * itself everywhere except there, so this hook does it for the package's own .ts files.
 */
import { readFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url).href;

registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith(root) && url.endsWith('.ts')) {
      const source = stripTypeScriptTypes(readFileSync(fileURLToPath(url), 'utf8'));
      return { format: 'module', source, shortCircuit: true };
    }
    return nextLoad(url, context);
  },
});
