import t from 'tap';
import {
  convertKey,
  convertKeys,
  decodeBase64Strict,
  decodeMap,
  decodeValue,
} from '../../src/refs/decoding.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const what = 'key "k" of SecretStore "a/s"';

t.test('None and absent strategy return the bytes unchanged', async (t) => {
  const raw = new Uint8Array([1, 2, 255]);
  t.equal(decodeValue('None', raw, what), raw);
  t.equal(decodeValue(undefined, raw, what), raw);
});

t.test('Base64: the standard padded alphabet, strictly', async (t) => {
  t.equal(str(decodeValue('Base64', enc('aGVsbG8='), what)), 'hello');
  t.equal(str(decodeValue('Base64', enc('aGVs\nbG8=\r\n'), what)), 'hello', 'line breaks are ignored (Go)');
  t.same([...decodeValue('Base64', enc('+/8AQQ=='), what)], [0xfb, 0xff, 0x00, 0x41]);
  t.equal(decodeValue('Base64', enc(''), what).length, 0);
  for (const bad of ['aGVsbG8', '-_8AQQ==', 'aGVsbG8=x', 'a=GV', 'aGVsbG8==', 'aGVs bG8=', 'é']) {
    t.throws(
      () => decodeValue('Base64', enc(bad), what),
      {
        code: 'ESW_DECODE',
        status: 422,
        message: `${what}: value is not valid base64 (decodingStrategy Base64)`,
      },
      JSON.stringify(bad),
    );
  }
});

t.test('Base64URL: the URL alphabet, padded', async (t) => {
  t.same([...decodeValue('Base64URL', enc('-_8AQQ=='), what)], [0xfb, 0xff, 0x00, 0x41]);
  t.throws(() => decodeValue('Base64URL', enc('+/8AQQ=='), what), { code: 'ESW_DECODE' });
  t.throws(
    () => decodeValue('Base64URL', enc('-_8AQQ'), what),
    { code: 'ESW_DECODE' },
    'padding required (Go URLEncoding)',
  );
});

t.test('Auto: base64, then base64url, else the raw bytes', async (t) => {
  t.equal(str(decodeValue('Auto', enc('aGVsbG8='), what)), 'hello');
  t.same([...decodeValue('Auto', enc('-_8AQQ=='), what)], [0xfb, 0xff, 0x00, 0x41]);
  t.equal(str(decodeValue('Auto', enc('not base64!'), what)), 'not base64!');
  const binary = new Uint8Array([0xff, 0x00, 0x80]);
  t.same([...decodeValue('Auto', binary, what)], [...binary], 'binary is kept');
});

t.test('unknown strategy is an error', async (t) => {
  t.throws(() => decodeValue('Hex' as never, enc('00'), what), {
    code: 'ESW_DECODE',
    message: `${what}: decodingStrategy "Hex" is not supported`,
  });
});

t.test('decodeBase64Strict never accepts what Node would silently skip', async (t) => {
  t.equal(decodeBase64Strict(enc('aGVs*bG8='), 'std'), undefined);
  t.equal(decodeBase64Strict(enc('aGVsbG8=aGVsbG8='), 'std'), undefined, 'padding only at the end');
});

t.test('decodeMap names the failing key, never the value', async (t) => {
  const m = new Map([
    ['ok', enc('aGk=')],
    ['bad', enc('CANARY-secret!')],
  ]);
  const err = (() => {
    try {
      decodeMap('Base64', m, what);
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(err, { code: 'ESW_DECODE', message: `${what} key "bad": value is not valid base64` });
  t.notOk(err?.message.includes('CANARY'));
  t.equal(decodeMap('None', m, what), m);
  t.equal(str(decodeMap('Auto', m, what).get('ok')!), 'hi');
});

t.test('conversionStrategy Default and Unicode (ESO convert)', async (t) => {
  t.equal(convertKey('Default', 'app/db:pass word$'), 'app_db_pass_word_');
  t.equal(convertKey(undefined, 'a/b'), 'a_b', 'absent = Default (CRD default)');
  t.equal(convertKey('Unicode', 'a$b'), 'a_U0024_b');
  t.equal(convertKey('Unicode', 'path/to'), 'path_U002f_to');
  t.equal(convertKey('Unicode', 'smile😀'), 'smile_U1f600_', 'code points above U+FFFF keep all hex digits');
  t.equal(convertKey('Default', 'ünïcode-ok_1.2'), 'ünïcode-ok_1.2', 'letters and digits of any script stay');
  t.equal(convertKey('Other' as never, 'a/b'), 'a/b', 'unknown strategy leaves the key');
});

t.test('convertKeys: collisions are an error naming the key', async (t) => {
  const m = new Map([
    ['a/b', enc('1')],
    ['a_b', enc('2')],
  ]);
  t.throws(() => convertKeys('Default', m, what), {
    code: 'ESW_DECODE',
    message: `${what}: key name collision during conversion: "a_b" (conversionStrategy Default)`,
  });
  t.same([...convertKeys('Unicode', m, what).keys()], ['a_U002f_b', 'a_b']);
});
