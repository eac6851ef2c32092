/** Sprig basics and Go's `and` / `or` / `eq` semantics in the template engine. */
import { createHash } from 'node:crypto';
import t from 'tap';
import { renderTemplate } from '../../src/refresher/template.ts';

const data = { user: 'db_user', empty: '', host: '  db.local  ', json: '{"a":"1"}' };

t.test('sprig basics', async (t) => {
  const cases: [string, string][] = [
    ['{{ .user | sha256sum }}', createHash('sha256').update('db_user').digest('hex')],
    ['{{ .user | sha1sum }}', createHash('sha1').update('db_user').digest('hex')],
    ['{{ empty .empty }} {{ empty .user }}', 'true false'],
    ['{{ coalesce .missing .empty .user }}', 'db_user'],
    ['{{ ternary "yes" "no" (eq .user "db_user") }}', 'yes'],
    ['{{ eq .user "x" | ternary "yes" "no" }}', 'no'],
    ['{{ list "a" "b" .user | join "," }}', 'a,b,db_user'],
    ['{{ $d := dict "k" .user "n" "2" }}{{ $d.k }}/{{ get $d "n" }}/{{ get $d "none" }}', 'db_user/2/'],
    ['{{ $d := dict "k" "v" }}{{ hasKey $d "k" }} {{ hasKey $d "x" }}', 'true false'],
    ['{{ keys (.json | fromJson) | join "," }}', 'a'],
    ['{{ range splitList "," "x,y" }}[{{ . }}]{{ end }}', '[x][y]'],
    ['{{ trimAll "$" "$$5.00$" }}', '5.00'],
    ['{{ "hello world" | title }}', 'Hello World'],
    ['{{ substr 0 5 "hello world" }}|{{ substr 6 -1 "hello world" }}', 'hello|world'],
    ['{{ repeat 3 "ab" }}', 'ababab'],
    ['{{ .host | nospace }}', 'db.local'],
    // Go: and/or give a value, not a boolean.
    ['{{ or .empty .user }}', 'db_user'],
    ['{{ or .missing "fallback" }}', 'fallback'],
    ['{{ and .user .empty }}|', '|'],
    ['{{ and "a" .user }}', 'db_user'],
    ['{{ if eq .user "a" "b" "db_user" }}any{{ end }}', 'any'],
  ];
  for (const [tpl, want] of cases) t.equal(renderTemplate(tpl, data), want, tpl);
});

t.test('sprig helpers cannot reach prototypes, the environment or unbounded output', async (t) => {
  t.equal(
    renderTemplate('{{ $d := dict "__proto__" "x" }}{{ get $d "__proto__" }}', data),
    'x',
    'a key, nothing more',
  );
  t.equal(renderTemplate('{{ $d := dict "a" "b" }}{{ hasKey $d "constructor" }}', data), 'false');
  t.equal(renderTemplate('{{ get . "toString" }}|', data), '|');
  for (const fn of ['env "HOME"', 'expandenv "$HOME"', 'pkcs12key .user', 'jwkPublicKeyPem .user']) {
    t.throws(
      () => renderTemplate(`{{ ${fn} }}`, data),
      { code: 'ESW_TEMPLATE', message: /is not supported/ },
      fn,
    );
  }
  t.throws(() => renderTemplate('{{ repeat 100000000 "ab" }}', data), {
    code: 'ESW_TEMPLATE',
    message: /larger than/,
  });
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype untouched');
});
