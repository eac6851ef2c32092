/**
 * Time zones and the clock of the date functions, beyond what the Go differential test compares:
 * zone names are tenant input (confined to the zoneinfo directories, cached), zones without a
 * zoneinfo file come from Node's IANA data with the same offsets, the clock is injected, and a
 * layout cannot format past the budget.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { renderTemplate, TemplateLimitError } from '../../src/template/index.ts';
import { GoTime } from '../../src/template/time/time.ts';
import { loadLocation, setZoneSources } from '../../src/template/time/zoneinfo.ts';

const NOW = new Date('2024-07-01T12:00:00Z');
const render = (tpl: string) => renderTemplate(tpl, {}, 'template', { env: { now: () => NOW } });

t.test('the clock is the injected now', async (t) => {
  t.equal(render('{{ now }}'), '2024-07-01 12:00:00 +0000 UTC');
  t.equal(render('{{ now | date "2006-01-02T15:04:05Z07:00" }}'), '2024-07-01T12:00:00Z');
  t.equal(render('{{ ago (now | dateModify "-26h") }}'), '26h0m0s');
  t.equal(render('{{ dateInZone "15:04 MST" now "Europe/Berlin" }}'), '14:00 CEST');
});

t.test('zone names are confined to the zoneinfo directories, as Go refuses them', async (t) => {
  t.teardown(() => setZoneSources(undefined));
  for (const name of [
    '../../etc/passwd',
    '/etc/passwd',
    '\\x',
    'Europe/../../etc/passwd',
    'a\0b',
    'x'.repeat(300),
  ]) {
    t.equal(loadLocation(name), undefined, `${JSON.stringify(name.slice(0, 30))} is no zone`);
    t.equal(
      render(`{{ dateInZone "MST" now ${JSON.stringify(name)} }}`),
      'UTC',
      'and formats in UTC, as sprig falls back',
    );
  }
  t.equal(loadLocation('Europe/Berlin'), loadLocation('Europe/Berlin'), 'parsed once, then cached');
  // A file that is not TZif: Go's error, hence UTC, and no fallback to other data.
  const dir = mkdtempSync(path.join(tmpdir(), 'esw-zoneinfo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'Broken'), 'not a zone file');
  setZoneSources({ dirs: [dir], intl: true });
  t.equal(loadLocation('Broken'), undefined);
  t.equal(render('{{ dateInZone "MST" now "Broken" }}'), 'UTC');
});

t.test('zones without a zoneinfo file come from Node IANA data with the same offsets', async (t) => {
  t.teardown(() => setZoneSources(undefined));
  const zones = [
    'Europe/Berlin',
    'America/New_York',
    'Asia/Kolkata',
    'Australia/Lord_Howe',
    'America/Sao_Paulo',
  ];
  const fromFiles = zones.map((z) => loadLocation(z));
  setZoneSources({ dirs: [], intl: true });
  const fromIntl = zones.map((z) => loadLocation(z));
  // Every 17 days over two years, both sides of each DST change.
  for (let i = 0; i < zones.length; i++) {
    const file = fromFiles[i];
    const intl = fromIntl[i];
    if (!file || !intl) {
      t.fail(`${zones[i]} did not load`);
      continue;
    }
    let same = 0;
    let checked = 0;
    for (let day = 0; day < 730; day += 17) {
      const sec = BigInt(1_704_067_200 + day * 86400);
      checked++;
      if (file.lookup(sec).offset === intl.lookup(sec).offset) same++;
    }
    t.equal(same, checked, `${zones[i]}: ${checked} instants, same offsets`);
    const abbr = intl.lookup(1_720_000_000n).name;
    t.match(
      abbr,
      /^([A-Z]{3,5}|[+-]\d{2}(\d{2})?)$/,
      `${zones[i]}: an abbreviation as tzdata writes them (${abbr})`,
    );
  }
  t.equal(loadLocation('Nope/Zone'), undefined);
  // Formatting across a DST change from Intl data: the wall clock moves as with zone files.
  t.equal(
    render(
      '{{ dateInZone "2006-01-02 15:04" (toDate "2006-01-02 15:04" "2024-03-31 01:30") "Europe/Berlin" }}',
    ),
    '2024-03-31 03:30',
  );
});

t.test('a layout cannot format past the value budget', async (t) => {
  for (const tpl of ['{{ date (repeat 200000 "2006") now }}', '{{ now.Format (repeat 300000 "1") }}']) {
    let err: unknown;
    try {
      render(tpl);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof TemplateLimitError, `${tpl}: a limit error`);
    t.match((err as Error).message, /1 MiB value budget in (date|Format) at line 1/, tpl);
  }
  t.equal(render('{{ date (repeat 1000 "1") now | len }}'), '1000');
});

t.test('times at the ends of Go ranges do not throw', async (t) => {
  const far = GoTime.unix(9_223_372_036_854_775_807n);
  t.type(far.date().year, 'number');
  t.equal(render('{{ (toDate "2006" "0001").Add -9223372036854775807 | unixEpoch }}'), '-71358968837');
  t.equal(render('{{ duration "99999999999999999999" }}'), '-1s', 'int64 overflow wraps as in Go');
});
