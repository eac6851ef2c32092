import fc from 'fast-check';
import t from 'tap';
import {
  formatReference,
  parseReferenceBody,
  parseRefsAnnotation,
  parseTemplate,
  type Reference,
  referenceTemplate,
  renderTemplate,
  serializeRefs,
  templateHasRefs,
} from '../../src/refs/placeholder.ts';

const ref = (key: string, property = '', version = ''): Reference => ({ key, property, version });

t.test('the three forms of a reference, alone and embedded', async (t) => {
  t.same(parseTemplate('${ref:a/b}').parts, [{ ref: ref('a/b') }]);
  t.same(parseTemplate('${ref:a/b#user}').parts, [{ ref: ref('a/b', 'user') }]);
  t.same(parseTemplate('${ref:a/b#user#v3}').parts, [{ ref: ref('a/b', 'user', 'v3') }]);
  t.same(parseTemplate('${ref:a/b##AWSPREVIOUS}').parts, [{ ref: ref('a/b', '', 'AWSPREVIOUS') }]);
  t.same(parseTemplate('postgres://${ref:db#user}:${ref:db#pass}@h:5432/app').parts, [
    { text: 'postgres://' },
    { ref: ref('db', 'user') },
    { text: ':' },
    { ref: ref('db', 'pass') },
    { text: '@h:5432/app' },
  ]);
  t.same(parseTemplate('${ref:a}${ref:b}').parts, [{ ref: ref('a') }, { ref: ref('b') }]);
  t.same(parseTemplate('no refs, just $ and { }').parts, [{ text: 'no refs, just $ and { }' }]);
  t.same(parseTemplate('').parts, []);
  t.same(
    parseTemplate('${ref:cfg#a\\.b.list.0}').parts,
    [{ ref: ref('cfg', 'a\\.b.list.0') }],
    'gjson escapes pass',
  );
  t.same(parseTemplate('${ref:cfg#list.\\#.name}').parts, [{ ref: ref('cfg', 'list.#.name') }], '\\# is a #');
  t.same(parseTemplate('${ref:we\\}ird}').parts, [{ ref: ref('we}ird') }], '\\} is a }');
  t.ok(templateHasRefs('x ${ref:a} y'));
  t.notOk(templateHasRefs('x ${ref y'));
});

t.test('syntax errors: ESW_REF_SYNTAX, 422, naming the key and quoting the reference', async (t) => {
  const cases: [string, RegExp][] = [
    ['${ref:', /unterminated/],
    ['abc ${ref:my/key#prop', /"\$\{ref:my\/key#prop": unterminated/],
    ['${ref:}', /remote key is empty/],
    ['${ref:#prop}', /remote key is empty/],
    ['${ref:a#b#c#d}', /too many "#"/],
    ['${ref:a#b#}', /version is empty/],
    ['${ref: a}', /leading or trailing spaces/],
    ['${ref:a${ref:b}}', /may not contain "\$\{"/],
    ['${ref:a\nb}', /unterminated/],
    ['${ref:a\\\nb}', /unterminated/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseTemplate(text, 'password'), { code: 'ESW_REF_SYNTAX', status: 422, message }, text);
    t.throws(() => parseTemplate(text, 'password'), { message: /^key "password": malformed reference/ });
  }
  const long = `\${ref:${'k'.repeat(500)}`;
  const err = (() => {
    try {
      parseTemplate(long, 'x');
    } catch (e: unknown) {
      return e as Error;
    }
  })();
  t.ok(err && err.message.length < 250, 'a long reference is clipped in the message');
});

t.test('annotation form: KEY#PROPERTY#VERSION without the wrapper', async (t) => {
  t.same(parseReferenceBody('my-app/db#password#v2'), ref('my-app/db', 'password', 'v2'));
  t.same(parseReferenceBody('my-app/db'), ref('my-app/db'));
  t.throws(() => parseReferenceBody('', 'k'), { code: 'ESW_REF_SYNTAX' });
  t.throws(() => parseReferenceBody('a#b#c#d', 'k'), { code: 'ESW_REF_SYNTAX' });
  t.same(referenceTemplate(ref('a', 'b')).source, '${ref:a#b}');
});

t.test('a body is read as the character scan reads it, escapes or not', async (t) => {
  // The scan every body once went through: "#" ends a field, a backslash takes the next
  // character ("\\#", "\\}", "\\\\" as it, any other with the backslash), a line break refuses.
  const scan = (body: string): string[] | 'lines' => {
    const fields = [''];
    for (let i = 0; i < body.length; i++) {
      const c = body[i] as string;
      if (c === '\\' && i + 1 < body.length) {
        const next = body[++i] as string;
        fields[fields.length - 1] += '#}\\'.includes(next) ? next : c + next;
      } else if (c === '#') fields.push('');
      else if (c === '\n' || c === '\r') return 'lines';
      else fields[fields.length - 1] += c;
    }
    return fields;
  };
  const outcome = (body: string) => {
    try {
      return parseReferenceBody(body, 'k');
    } catch (e: unknown) {
      return (e as Error).message;
    }
  };
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom('a', '#', '\\', '}', ' ', '\n', '\r'), maxLength: 12 }),
      (body) => {
        const fields = scan(body);
        const got = outcome(body);
        if (fields === 'lines') return typeof got === 'string' && got.includes('may not span lines');
        const [key = '', , version = ''] = fields;
        const valid =
          fields.length <= 3 &&
          key !== '' &&
          key.trim() === key &&
          version.trim() === version &&
          !(fields.length === 3 && version === '');
        if (!valid) return typeof got === 'string';
        return (
          typeof got !== 'string' &&
          got.key === key &&
          got.property === (fields[1] ?? '') &&
          got.version === (fields[2] ?? '')
        );
      },
    ),
    { numRuns: 3000, seed: 7 },
  );
  t.same(parseReferenceBody('a\\#b#c'), ref('a#b', 'c'), 'an escaped "#" is part of the field');
  t.same(parseReferenceBody('a\\x#b'), ref('a\\x', 'b'), 'another escape keeps its backslash');
});

t.test('formatReference round-trips any reference', async (t) => {
  const field = fc.string({ unit: fc.constantFrom('a', '#', '}', '\\', '.', '/', '{', '$', 'é') });
  fc.assert(
    fc.property(
      field.filter((k) => k !== '' && k.trim() === k && !k.includes('${')),
      field,
      field.filter((v) => v.trim() === v),
      (key, property, version) => {
        const r = ref(key, property, version);
        const text = formatReference(r);
        if (text.includes('${', 1)) return true; // a "${" inside a reference is refused by design
        const parts = parseTemplate(text).parts;
        return parts.length === 1 && JSON.stringify(parts[0]) === JSON.stringify({ ref: r });
      },
    ),
    { numRuns: 2000, seed: 42 },
  );
  t.pass('2000 generated references round-trip');
});

t.test('render: one whole-value reference is binary-safe, embedded ones are UTF-8 text', async (t) => {
  const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x24, 0x7b]);
  const values = new Map<string, Uint8Array>([
    ['bin', binary],
    ['user', Buffer.from('db_üser')],
  ]);
  const lookup = (r: Reference) => values.get(r.key) as Uint8Array;
  t.same(renderTemplate(parseTemplate('${ref:bin}'), lookup), binary);
  t.equal(
    renderTemplate(parseTemplate('u=${ref:user};${ref:user}'), lookup).toString('utf8'),
    'u=db_üser;db_üser',
  );
  t.throws(() => renderTemplate(parseTemplate('x${ref:bin}'), lookup, 'k'), {
    code: 'ESW_DECODE',
    message: /key "k": the value of \$\{ref:bin\} is not UTF-8 text/,
  });
});

t.test('the esw.io/refs record: templates only, no literal ${ref:, read back identically', async (t) => {
  const templates = new Map([
    ['url', parseTemplate('postgres://${ref:db#user}@h/app', 'url')],
    ['password', parseTemplate('${ref:db#password#v1}', 'password')],
  ]);
  const text = serializeRefs({ templates, dataFrom: ref('my-app/all') });
  t.notOk(text.includes('${ref:'), 'no literal placeholder in the annotation');
  t.notOk(JSON.stringify(text).includes('${ref:'), 'nor once embedded in a JSON patch');
  const parsed = JSON.parse(text) as Record<string, string>;
  t.same(Object.keys(parsed), ['esw.io/data-from', 'password', 'url'], 'sorted keys');
  t.equal(parsed.url, 'postgres://${ref:db#user}@h/app', 'plain JSON: the template text comes back');
  const back = parseRefsAnnotation(text);
  t.ok(back);
  t.same(back?.dataFrom, ref('my-app/all'));
  t.same(
    [...(back?.templates ?? [])],
    [...templates].sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  t.equal(parseRefsAnnotation('not json'), undefined);
  t.equal(parseRefsAnnotation('{"k":1}'), undefined);
  t.equal(parseRefsAnnotation('{"k":"${ref:"}'), undefined);
  t.equal(parseRefsAnnotation(undefined), undefined);
});
