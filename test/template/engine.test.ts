/**
 * The template engine's contract beyond what the Go differential test compares: ESO's
 * `missingkey=error`, hostile templates reaching nothing of the process, and the per-render
 * budget refusing every way a few bytes of template ask for gigabytes — before allocating.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { DEFAULT_LIMITS } from '../../src/template/budget.ts';
import { Budget, parseTemplate, renderTemplate, TemplateLimitError } from '../../src/template/index.ts';

const CANARY = `CANARY-${randomUUID()}`;
const data = { username: 'db_user', password: CANARY, json: '{"a":{"b":[1,2]}}' };

t.test('Go semantics as ESO renders', async (t) => {
  const cases: [string, string][] = [
    ['{{ .username }}', 'db_user'],
    ['{{ index (.json | fromJson) "a" "b" }}', '[1 2]'],
    ['{{ index . "missing" }}|', '|'],
    ['{{ index (dict) "missing" }}', '<no value>'],
    ['{{ dict "b" 1 "a" (list 1 "x" nil) }}', 'map[a:[1 x <nil>] b:1]'],
    ["{{ 1e6 }} {{ 0x1F }} {{ 'a' }} {{ 1.5 }}", '1e+06 31 97 1.5'],
    ['{{ printf "%05.2f|%q|%x|%T" 3.14159 "hi" "hi" (add 1 2) }}', '03.14|"hi"|6869|int64'],
    ['{{ range $k, $v := dict "b" 2 "a" 1 }}{{ $k }}={{ $v }};{{ end }}', 'a=1;b=2;'],
    ['{{ range list 1 2 3 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}', '13'],
    ['{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .username }}', '[db_user]'],
    ['{{ if and (eq 1 1) (eq "a" "a") }}y{{ else if true }}n{{ end }}', 'y'],
    ['{{ len "é" }}', '2'],
  ];
  for (const [tpl, want] of cases) t.equal(renderTemplate(tpl, data), want, tpl);
  const failing: [string, RegExp][] = [
    ['{{ .missing }}', /map has no entry for key "missing"/],
    ['{{ .missing | default "x" }}', /map has no entry for key "missing"/],
    ['{{ repeat (add 1 2) "x" }}', /wrong type for value; expected int; got int64/],
    ['{{ eq 1 "1" }}', /incompatible types for comparison/],
    ['{{ hasKey . "username" }}', /expected map\[string\]interface \{\}; got map\[string\]string/],
    ['{{ nope }}', /function "nope" not defined/],
    ['{{ if .username }}', /unexpected EOF/],
  ];
  for (const [tpl, message] of failing)
    t.throws(() => renderTemplate(tpl, data), { code: 'ESW_TEMPLATE', message }, tpl);
});

t.test('hostile templates reach nothing of the process; errors never carry values', async (t) => {
  process.env.ESW_TEMPLATE_CANARY = CANARY;
  t.teardown(() => {
    delete process.env.ESW_TEMPLATE_CANARY;
  });
  for (const tpl of [
    '{{ env "ESW_TEMPLATE_CANARY" }}',
    '{{ expandenv "$HOME" }}',
    '{{ getHostByName "x" }}',
  ]) {
    t.throws(() => parseTemplate(tpl), { message: /not defined/ }, `${tpl}: not a function here`);
  }
  for (const tpl of ['{{ .constructor }}', '{{ .__proto__ }}', '{{ .username.constructor }}']) {
    t.throws(() => renderTemplate(tpl, data), { code: 'ESW_TEMPLATE' }, tpl);
  }
  t.equal(renderTemplate('{{ index . "__proto__" }}|{{ get (dict) "constructor" }}|', data), '||');
  const leaky = [
    '{{ fail .password }}',
    '{{ .password | int | repeat 3 }}',
    '{{ range .password }}{{ end }}',
    '{{ .password.x }}',
    '{{ printf "%d" .password | fail }}',
    '{{ index .password 100 }}',
    '{{ if .password }}{{ end }}{{ (list .password).x }}',
  ];
  for (const tpl of leaky) {
    try {
      renderTemplate(tpl, data);
      t.fail(`${tpl} should fail`);
    } catch (e) {
      t.notOk((e as Error).message.includes(CANARY), `${tpl}: the error does not carry the value`);
    }
  }
  t.throws(() => renderTemplate('{{ fail "literal reason" }}', data), { message: /literal reason/ });
});

t.test('the budget refuses before allocating, naming the limit', async (t) => {
  // The 91-byte template: replace over repeat (595 MiB RSS on the old engine).
  const ninetyOne =
    '{{ $a := repeat 32768 "0123456789abcdef" }}{{ $b := replace "0" $a $a }}{{ len $b }} bytes!';
  t.equal(Buffer.byteLength(ninetyOne), 91);
  const hostile: [string, RegExp][] = [
    [ninetyOne, /1 MiB value budget in replace at line 1, col \d+/],
    ['{{ repeat 1000000000 "ab" }}', /1 MiB value budget in repeat at line 1, col 4/],
    ['{{ join "," (until 100000000) }}', /value budget in until/],
    ['{{ seq 100000000 }}', /value budget in seq/],
    ['{{ printf "%*d" 1000000000 1 }}', /value budget in printf/],
    ['{{ printf "%.2000000000f" 1.0 }}', /value budget in printf/],
    ['{{ indent 1000000000 "x" }}', /value budget in indent/],
    ['{{ $l := list (repeat 600000 "x") }}{{ $l = concat $l $l }}{{ len $l }}', /value budget in concat/],
    ['{{ $s := repeat 600000 "x" }}{{ toJson (list $s $s) }}', /value budget in list|value budget in toJson/],
    ['{{ range until 1000000 }}{{ end }}', /value budget in until|evaluation step budget/],
    ['{{ range $i := until 50000 }}{{ range until 100 }}{{ end }}{{ end }}', /evaluation step budget/],
    ['{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}', /nesting depth of 100/],
    [`{{ $s := repeat 500000 "x" }}${'{{ $s = printf "%s" $s }}'.repeat(40)}`, /allocation budget/],
    [`${'{{ repeat 500000 "x" }}'.repeat(3)}`, /value budget in output/],
  ];
  for (const [tpl, message] of hostile) {
    let err: unknown;
    try {
      renderTemplate(tpl, data);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof TemplateLimitError, `${tpl.slice(0, 60)}: a limit error`);
    t.match((err as Error | undefined)?.message, message, tpl.slice(0, 60));
  }
  t.test('a shared budget bounds many renders together', async (t) => {
    const budget = new Budget();
    const one = '{{ repeat 900000 "x" | len }}';
    t.equal(renderTemplate(one, data, 'a', { budget }), '900000');
    t.throws(() => {
      for (let i = 0; i < 40; i++) renderTemplate(one, data, `k${i}`, { budget });
    }, /allocation budget/);
  });
});

t.test('secret values that are not UTF-8 pass through unchanged', async (t) => {
  const { templateInput, templateBytes } = await import('../../src/template/index.ts');
  const raw = Buffer.from([0x30, 0x82, 0xff, 0xfe, 0xc3, 0x28, 0x41]);
  const input = templateInput(new Map([['bin', raw]]));
  t.same(templateBytes(renderTemplate('{{ .bin }}', input)), raw, 'printed as the same bytes');
  t.equal(renderTemplate('{{ len .bin }}', input), '7', 'len counts bytes');
  t.same(templateBytes(renderTemplate('{{ .bin | b64enc | b64dec }}', input)), raw, 'b64 round trip');
});

t.test('long hostile inputs are scanned once, never backtracked (each took minutes to hours)', async (t) => {
  // Each of these ran a backtracking RegExp over tenant text, quadratic in its length: 40,000
  // characters took 9 to 37 s, so these 500,000-character inputs would not finish within the
  // test's timeout. They now take one pass each.
  const n = 500_000;
  const digits = '1'.repeat(n);
  const cases: [string, string][] = [
    [`{{ float64 (printf "%sx" (repeat ${n} "1")) }}`, '0'],
    [`{{ int (printf "%sx" (repeat ${n} "1")) }}|{{ atoi (repeat ${n} "1") }}`, '0|9223372036854775807'],
    [`{{ toDecimal (repeat ${n} "7") }}`, '0'],
    [`{{ base (printf "%sx" (repeat ${n} "/")) }}|{{ osBase (printf "a%s" (repeat ${n} "/")) }}`, 'x|a'],
  ];
  for (const [tpl, want] of cases) t.equal(renderTemplate(tpl, data), want, tpl.slice(0, 50));
  t.throws(
    () =>
      renderTemplate(
        `{{ filterPEM "CERTIFICATE" (printf "-----BEGIN CERTIFICATE-----%sx" (repeat ${n} " ")) }}`,
        data,
      ),
    { message: /found junk/ },
    'a PEM header line with a long blank run',
  );
  // A number literal in the template source itself: admission parses it.
  t.throws(
    () => parseTemplate(`{{ ${digits}.${digits}e }}`),
    { code: 'ESW_TEMPLATE' },
    'a long malformed literal',
  );
  t.throws(
    () => parseTemplate(`{{ ${digits} }}`),
    { message: /illegal number syntax: "1{64}…"$/ },
    'a long integer literal, quoted short',
  );
});

t.test('key generations and slow password hashes are counted before they run', async (t) => {
  t.equal(DEFAULT_LIMITS.keys, 4);
  t.equal(DEFAULT_LIMITS.hashes, 8);
  // Small limits keep the test fast; the counting is the same.
  const hostile: [string, Partial<typeof DEFAULT_LIMITS>, RegExp][] = [
    [
      '{{ range until 3 }}{{ genPrivateKey "ecdsa" }}{{ end }}',
      { keys: 2 },
      /budget of 2 key generations in genPrivateKey/,
    ],
    ['{{ genPrivateKey "ed25519" }}{{ genCA "x" 1 }}', { keys: 1 }, /budget of 1 key generations in genCA/],
    ['{{ range until 3 }}{{ bcrypt "x" }}{{ end }}', { hashes: 2 }, /budget of 2 password hashes in bcrypt/],
    [
      '{{ bcrypt "x" }}{{ htpasswd "u" "p" "bcrypt" }}',
      { hashes: 1 },
      /budget of 1 password hashes in htpasswd/,
    ],
    [
      '{{ bcrypt "x" }}{{ derivePassword 1 "pin" "p" "u" "s" }}',
      { hashes: 1 },
      /budget of 1 password hashes in derivePassword/,
    ],
  ];
  for (const [tpl, limits, message] of hostile) {
    let err: unknown;
    try {
      renderTemplate(tpl, data, 'template', { limits });
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof TemplateLimitError, `${tpl}: a limit error`);
    t.match((err as Error | undefined)?.message, message, tpl);
  }
  t.equal(
    renderTemplate('{{ htpasswd "u" "p" "sha" }}', data, 'template', { limits: { hashes: 0 } }),
    'u:{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=',
    'fast forms are not counted',
  );
});

t.test('crypto errors never carry the password, key or certificate', async (t) => {
  const { readFileSync } = await import('node:fs');
  const pfx = readFileSync(new URL('./fixtures/modern.p12', import.meta.url)).toString('base64');
  const key = readFileSync(new URL('./fixtures/leaf.key', import.meta.url), 'utf8');
  const input = {
    ...data,
    pfx,
    key,
    bad: `-----BEGIN RSA PRIVATE KEY-----\n${Buffer.from(CANARY).toString('base64')}\n-----END RSA PRIVATE KEY-----\n`,
  };
  const leaky = [
    '{{ b64dec .pfx | pkcs12keyPass .password }}',
    '{{ b64dec .pfx | pkcs12certPass .password }}',
    '{{ pkcs12key .password }}',
    '{{ genCAWithKey "x" 1 .bad }}',
    '{{ genCAWithKey "x" 1 .password }}',
    '{{ buildCustomCert (b64enc .password) (b64enc .key) }}',
    '{{ buildCustomCert (b64enc .key) (b64enc .bad) }}',
    '{{ pemToPkcs12 .password .key }}',
    '{{ genSelfSignedCert "x" (list .password) nil 1 }}',
    '{{ mustToDate "2006" .password }}',
    '{{ mustDateModify .password now }}',
  ];
  for (const tpl of leaky) {
    try {
      renderTemplate(tpl, input);
      t.fail(`${tpl} should fail`);
    } catch (e) {
      t.notOk((e as Error).message.includes(CANARY), `${tpl}: the error does not carry the value`);
    }
  }
});

t.test('regular expressions: bounded searches, results sized first, patterns never quoted', async (t) => {
  t.equal(DEFAULT_LIMITS.regexScan, 4 * 1024 * 1024);
  // A pattern that matches at every position of a long text: each search is charged to the end.
  // (A 1 MiB limit keeps the test fast; the charging is the same.)
  const many = '{{ regexFindAll "a.*b|a" (repeat 20000 "a") -1 | len }}';
  let err: unknown;
  try {
    renderTemplate(many, data, 'template', { limits: { regexScan: 1024 * 1024 } });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof TemplateLimitError, 'a quadratic search pattern stops at the scan budget');
  t.match((err as Error).message, /1 MiB scanned by regular expression searches in regexFindAll/);
  t.equal(
    renderTemplate('{{ regexFindAll "b+" (printf "%sbb" (repeat 900000 "a")) -1 }}', data),
    '[bb]',
    'a long text, few matches',
  );
  t.throws(
    () => renderTemplate('{{ regexReplaceAll "a" (repeat 2000 "a") (repeat 1000 "x") }}', data),
    { message: /1 MiB value budget in regexReplaceAll/ },
    'a replacement is sized before it is built',
  );
  t.throws(
    () => renderTemplate('{{ regexReplaceAll "(a)" (repeat 2000 "a") (repeat 600 "$1") }}', data),
    { message: /1 MiB value budget in regexReplaceAll/ },
    'group expansions are counted too',
  );
  for (const tpl of [
    '{{ mustRegexMatch (print "(" .password) "x" }}',
    '{{ regexFind (print "[" .password) "x" }}',
  ]) {
    try {
      renderTemplate(tpl, data);
      t.fail(`${tpl} should fail`);
    } catch (e) {
      t.equal((e as Error).message.includes(CANARY), false, `${tpl}: the error does not quote the pattern`);
      t.match((e as Error).message, /invalid regular expression/);
    }
  }
  t.equal(
    renderTemplate('{{ regexMatch (print "(" .password) "x" }}', data),
    'false',
    'regexMatch: false, as sprig',
  );
});
