/**
 * `esw validate FILE…`: offline validation of multi-document YAML manifests with the webhook's
 * own rules and messages, for CI pipelines. One line per error
 * (`<file>: <Kind>/<ns>/<name>: <field>: <message>`), one `warning: …` line per warning.
 * Exit code: 0 all valid, 1 some object invalid, 2 a file could not be read or parsed.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { isObject } from '../api/schema.ts';
import { VALIDATED_KINDS, validateObject } from '../api/validate.ts';
import { objectId } from '../api/validate-meta.ts';

export async function runValidate(files: string[], out: (line: string) => void): Promise<number> {
  let invalid = 0;
  let valid = 0;
  let unreadable = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      out(`${file}: error: cannot read file${code ? ` (${code})` : ''}`);
      unreadable++;
      continue;
    }
    const docs = parseAllDocuments(text);
    const syntax = docs.flatMap((d, i) => d.errors.map((e) => ({ doc: i + 1, message: e.message })));
    if (syntax.length > 0) {
      const first = syntax[0] as { doc: number; message: string };
      out(`${file}: error: YAML syntax error in document ${first.doc}: ${first.message.split('\n')[0]}`);
      unreadable++;
      continue;
    }
    let objects = 0;
    docs.forEach((doc, i) => {
      let value: unknown;
      try {
        value = doc.toJS();
      } catch (err: unknown) {
        out(
          `${file}: error: document ${i + 1} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        );
        unreadable++;
        return;
      }
      if (value === null || value === undefined) return;
      const items =
        isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      for (const item of items) {
        objects++;
        const kind = isObject(item) ? item.kind : undefined;
        if (typeof kind !== 'string' || !(VALIDATED_KINDS as readonly string[]).includes(kind)) {
          out(`${file}: skipping ${objectId(item)}: only ${VALIDATED_KINDS.join(', ')} are validated`);
          continue;
        }
        const id = objectId(item);
        const { errors, warnings } = validateObject(item);
        for (const w of warnings) out(`warning: ${file}: ${id}: ${w}`);
        for (const e of errors) out(`${file}: ${id}: ${e.field}: ${e.message}`);
        if (errors.length > 0) invalid++;
        else {
          valid++;
          out(`${file}: ${id}: valid`);
        }
      }
    });
    if (objects === 0) out(`${file}: no objects`);
  }
  out(`${valid} valid, ${invalid} invalid${unreadable > 0 ? `, ${unreadable} unreadable` : ''}`);
  if (unreadable > 0) return 2;
  return invalid > 0 ? 1 : 0;
}
