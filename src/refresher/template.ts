/**
 * A safe interpreter for the Go text/template subset that ExternalSecret templates
 * (`engineVersion: v2`) use. It is an interpreter, not a compiler: no eval, no Function, no
 * access to anything but the data map it is given, own properties only (`__proto__`,
 * `constructor` and friends are just missing keys). Output size and steps are bounded.
 *
 * Supported: `{{ .key }}`, `{{ .a.b }}`, `{{ index . "key-with-dash" }}`, pipelines
 * `{{ .x | b64enc | quote }}`, function calls with arguments, string/number literals, `{{- -}}`
 * trimming, `{{ if … }} … {{ else }} … {{ end }}`, `{{ range [$k, $v :=] … }}` over lists and
 * maps (keys sorted, as Go), `{{ with … }}`, variables (`$`, `{{ $x := … }}`, `$x.field`) and
 * template comments. Functions: the common
 * ones of ESO v2 (b64enc, b64dec, toJson, fromJson, toYaml, fromYaml, upper, lower, trim,
 * trimPrefix, trimSuffix, replace, quote, squote, default, toString, indent, nindent, printf
 * with %s/%d/%v, contains, hasPrefix, hasSuffix, join, len, eq, ne, not, and, or) and sprig
 * basics (sha256sum, sha1sum, empty, coalesce, ternary, list, dict, hasKey, get, keys,
 * splitList, trimAll, title, substr, repeat, nospace). `env` and `expandenv` do not exist, as
 * in ESO.
 * Unsupported constructs (`define`, `template`, `block`, pkcs12/jwk helpers) fail with a clear
 * error.
 */
import { createHash } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { EswError } from '../errors.ts';

const MAX_OUTPUT = 1024 * 1024;
const MAX_STEPS = 100_000;

type Value = string | number | boolean | null | undefined | Value[] | { [k: string]: Value };

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'set'; name: string; declare: boolean; pipe: Pipe }
  | { t: 'if'; cond: Pipe; yes: Node[]; no: Node[] }
  | { t: 'with'; cond: Pipe; yes: Node[]; no: Node[] }
  | { t: 'range'; vars: string[]; over: Pipe; body: Node[]; no: Node[] };

type Arg =
  | { t: 'field'; path: string[] }
  | { t: 'var'; name: string; path: string[] }
  | { t: 'dot' }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'call'; pipe: Pipe };
interface Cmd {
  fn?: string;
  args: Arg[];
}
type Pipe = Cmd[];

export class TemplateError extends EswError {
  constructor(message: string) {
    super('ESW_TEMPLATE', message);
  }
}

export function renderTemplate(source: string, data: Record<string, string>, name = 'template'): string {
  const nodes = parseTemplate(source, name);
  const root = Object.freeze({ ...data }) as Record<string, Value>;
  const state = { steps: 0, out: 0, name };
  return exec(nodes, root, state, { vars: new Map([['$', root]]) });
}

// ------------------------------------------------------------------ lexing and parsing

function parseTemplate(source: string, name: string): Node[] {
  const tokens: ({ t: 'text'; text: string } | { t: 'action'; body: string })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = open === -1 ? source.slice(i) : source.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      if (text) tokens.push({ t: 'text', text });
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close === -1) throw new TemplateError(`${name}: unclosed action at offset ${open}`);
    let body = source.slice(open + 2, close);
    if (body.startsWith('-') && /^-\s/.test(body)) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    trimNext = false;
    if (/\s-$/.test(body)) {
      trimNext = true;
      body = body.slice(0, -1);
    }
    if (text) tokens.push({ t: 'text', text });
    body = body.trim();
    if (!(body.startsWith('/*') && body.endsWith('*/'))) tokens.push({ t: 'action', body });
    i = close + 2;
  }
  let pos = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++] as (typeof tokens)[number];
      if (tok.t === 'text') {
        nodes.push(tok);
        continue;
      }
      const word = tok.body.split(/\s+/)[0] ?? '';
      if (stopAt.includes(word)) return { nodes, stop: word };
      if (word === 'if' || word === 'with' || word === 'range') {
        const thenPart = block(['else', 'end']);
        let elsePart: Node[] = [];
        if (thenPart.stop === 'else') elsePart = block(['end']).nodes;
        else if (thenPart.stop !== 'end') throw new TemplateError(`${name}: "${word}" without "end"`);
        const rest = tok.body.slice(word.length);
        if (word === 'range') {
          const m = /^\s*(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=([\s\S]*)$/.exec(rest);
          const vars = m ? [m[1], m[2]].filter((v): v is string => v !== undefined) : [];
          const over = parsePipe(m ? (m[3] as string) : rest, name);
          nodes.push({ t: 'range', vars, over, body: thenPart.nodes, no: elsePart });
        } else {
          nodes.push({ t: word, cond: parsePipe(rest, name), yes: thenPart.nodes, no: elsePart });
        }
        continue;
      }
      const assign = /^(\$\w*)\s*(:?=)([\s\S]*)$/.exec(tok.body);
      if (assign) {
        const declare = assign[2] === ':=';
        nodes.push({
          t: 'set',
          name: assign[1] as string,
          declare,
          pipe: parsePipe(assign[3] as string, name),
        });
        continue;
      }
      if (['define', 'template', 'block', 'else', 'end', 'break', 'continue'].includes(word)) {
        throw new TemplateError(`${name}: "${word}" is not supported here`);
      }
      nodes.push({ t: 'action', pipe: parsePipe(tok.body, name) });
    }
    if (stopAt.length > 0) throw new TemplateError(`${name}: missing "{{ end }}"`);
    return { nodes, stop: '' };
  };
  return block([]).nodes;
}

function parsePipe(src: string, name: string): Pipe {
  const words = lexWords(src, name);
  let i = 0;
  const parseArg = (): Arg => {
    const w = words[i++] as string;
    if (w === '(') {
      const inner: string[] = [];
      let depth = 1;
      while (i < words.length && depth > 0) {
        const x = words[i++] as string;
        if (x === '(') depth++;
        if (x === ')') depth--;
        if (depth > 0) inner.push(x);
      }
      if (depth !== 0) throw new TemplateError(`${name}: unbalanced parentheses`);
      return { t: 'call', pipe: parsePipeWords(inner, name) };
    }
    return word(w, name);
  };
  const pipe: Pipe = [];
  let cmd: Cmd = { args: [] };
  while (i < words.length) {
    if (words[i] === '|') {
      i++;
      pipe.push(cmd);
      cmd = { args: [] };
      continue;
    }
    const w = words[i] as string;
    if (cmd.fn === undefined && cmd.args.length === 0 && /^[A-Za-z_]\w*$/.test(w)) {
      cmd.fn = w;
      i++;
      continue;
    }
    cmd.args.push(parseArg());
  }
  pipe.push(cmd);
  if (pipe.some((c) => c.fn === undefined && c.args.length === 0))
    throw new TemplateError(`${name}: empty command`);
  return pipe;
}

function parsePipeWords(words: string[], name: string): Pipe {
  return parsePipe(words.map((w) => (w.startsWith('"') ? w : w)).join(' '), name);
}

function lexWords(src: string, name: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c === '"' ? 2 : 1;
      if (j >= src.length) throw new TemplateError(`${name}: unterminated string`);
      out.push(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === '|' || c === '(' || c === ')') {
      out.push(c);
      i++;
    } else {
      let j = i;
      while (j < src.length && !/[\s|()]/.test(src[j] as string)) j++;
      out.push(src.slice(i, j));
      i = j;
    }
  }
  return out;
}

function word(w: string, name: string): Arg {
  if (w === '.') return { t: 'dot' };
  if (/^\$\w*(\.[^.]+)*$/.test(w)) {
    const [varName, ...path] = w.split('.');
    return { t: 'var', name: varName as string, path };
  }
  if (w.startsWith('.')) return { t: 'field', path: w.slice(1).split('.') };
  if (w.startsWith('"')) {
    try {
      return { t: 'str', v: JSON.parse(w) as string };
    } catch {
      throw new TemplateError(`${name}: bad string literal`);
    }
  }
  if (w.startsWith('`')) return { t: 'str', v: w.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(w)) return { t: 'num', v: Number(w) };
  if (w === 'true' || w === 'false' || w === 'nil') return { t: 'call', pipe: [{ fn: w, args: [] }] };
  throw new TemplateError(`${name}: unexpected "${w.slice(0, 20)}"`);
}

// ------------------------------------------------------------------ evaluation

interface State {
  steps: number;
  out: number;
  name: string;
}

/** Variables: a frame per control structure, as Go scopes them (to the matching `end`). */
interface Scope {
  vars: Map<string, Value>;
  parent?: Scope;
}

function lookupVar(scope: Scope, name: string, s: State): Value {
  for (let f: Scope | undefined = scope; f; f = f.parent) if (f.vars.has(name)) return f.vars.get(name);
  throw new TemplateError(`${s.name}: undefined variable "${name.slice(0, 20)}"`);
}

function setVar(scope: Scope, name: string, v: Value, declare: boolean, s: State): void {
  if (declare) {
    scope.vars.set(name, v);
    return;
  }
  for (let f: Scope | undefined = scope; f; f = f.parent) {
    if (f.vars.has(name)) {
      f.vars.set(name, v);
      return;
    }
  }
  throw new TemplateError(`${s.name}: undefined variable "${name.slice(0, 20)}"`);
}

function exec(nodes: Node[], dot: Value, s: State, scope: Scope): string {
  let out = '';
  for (const n of nodes) {
    if (++s.steps > MAX_STEPS) throw new TemplateError(`${s.name}: template too complex`);
    let piece = '';
    if (n.t === 'text') piece = n.text;
    else if (n.t === 'action') piece = print(evalPipe(n.pipe, dot, s, scope));
    else if (n.t === 'set') setVar(scope, n.name, evalPipe(n.pipe, dot, s, scope), n.declare, s);
    else if (n.t === 'if') {
      const yes = truthy(evalPipe(n.cond, dot, s, scope));
      piece = exec(yes ? n.yes : n.no, dot, s, { vars: new Map(), parent: scope });
    } else if (n.t === 'with') {
      const v = evalPipe(n.cond, dot, s, scope);
      const inner = { vars: new Map(), parent: scope };
      piece = truthy(v) ? exec(n.yes, v, s, inner) : exec(n.no, dot, s, inner);
    } else piece = execRange(n, dot, s, scope);
    // Only text and printed values count: nested blocks were counted as they were produced.
    if (n.t === 'text' || n.t === 'action') s.out += piece.length;
    if (s.out > MAX_OUTPUT) throw new TemplateError(`${s.name}: output larger than ${MAX_OUTPUT} bytes`);
    out += piece;
  }
  return out;
}

/** `range` over a list (in order) or a map (keys sorted, as Go); nil or empty runs `else`. */
function execRange(n: Extract<Node, { t: 'range' }>, dot: Value, s: State, scope: Scope): string {
  const over = evalPipe(n.over, dot, s, scope);
  let items: [Value, Value][];
  if (over === undefined || over === null) items = [];
  else if (Array.isArray(over)) items = over.map((v, i) => [i, v]);
  else if (typeof over === 'object')
    items = Object.keys(over)
      .sort()
      .map((k) => [k, over[k] as Value]);
  else throw new TemplateError(`${s.name}: range can't iterate over a ${typeof over}`);
  if (items.length === 0) return exec(n.no, dot, s, { vars: new Map(), parent: scope });
  let out = '';
  for (const [k, v] of items) {
    if (++s.steps > MAX_STEPS) throw new TemplateError(`${s.name}: template too complex`);
    const vars = new Map<string, Value>();
    if (n.vars.length === 1) vars.set(n.vars[0] as string, v);
    if (n.vars.length === 2) {
      vars.set(n.vars[0] as string, k);
      vars.set(n.vars[1] as string, v);
    }
    out += exec(n.body, v, s, { vars, parent: scope });
  }
  return out;
}

function evalPipe(pipe: Pipe, dot: Value, s: State, scope: Scope): Value {
  let prev: Value | typeof NONE = NONE;
  for (const cmd of pipe) {
    if (++s.steps > MAX_STEPS) throw new TemplateError(`${s.name}: template too complex`);
    const args = cmd.args.map((a) => evalArg(a, dot, s, scope));
    if (prev !== NONE) args.push(prev);
    if (cmd.fn === undefined) {
      if (args.length !== 1) throw new TemplateError(`${s.name}: cannot apply arguments to a value`);
      prev = args[0] as Value;
    } else {
      prev = call(cmd.fn, args, s);
    }
  }
  return prev === NONE ? undefined : prev;
}

const NONE = Symbol('none');

function evalArg(a: Arg, dot: Value, s: State, scope: Scope): Value {
  switch (a.t) {
    case 'dot':
      return dot;
    case 'str':
      return a.v;
    case 'num':
      return a.v;
    case 'call':
      return evalPipe(a.pipe, dot, s, scope);
    case 'field': {
      let v: Value = dot;
      for (const key of a.path) v = own(v, key);
      return v;
    }
    case 'var': {
      let v: Value = lookupVar(scope, a.name, s);
      for (const key of a.path) v = own(v, key);
      return v;
    }
  }
}

/** Own, enumerable data only: nothing from prototypes is ever reachable. */
function own(v: Value, key: string): Value {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.hasOwn(v, key) ? v[key] : undefined;
}

function str(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function print(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  return str(v);
}

function truthy(v: Value): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function need(args: Value[], n: number, fn: string, s: State): void {
  if (args.length !== n) throw new TemplateError(`${s.name}: ${fn} takes ${n} argument${n === 1 ? '' : 's'}`);
}

function call(fn: string, args: Value[], s: State): Value {
  switch (fn) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'nil':
      return null;
    case 'b64enc':
      need(args, 1, fn, s);
      return Buffer.from(str(args[0] as Value), 'utf8').toString('base64');
    case 'b64dec':
      need(args, 1, fn, s);
      return Buffer.from(str(args[0] as Value), 'base64').toString('utf8');
    case 'upper':
      need(args, 1, fn, s);
      return str(args[0] as Value).toUpperCase();
    case 'lower':
      need(args, 1, fn, s);
      return str(args[0] as Value).toLowerCase();
    case 'trim':
      need(args, 1, fn, s);
      return str(args[0] as Value).trim();
    case 'trimPrefix': {
      need(args, 2, fn, s);
      const [p, v] = [str(args[0] as Value), str(args[1] as Value)];
      return v.startsWith(p) ? v.slice(p.length) : v;
    }
    case 'trimSuffix': {
      need(args, 2, fn, s);
      const [p, v] = [str(args[0] as Value), str(args[1] as Value)];
      return p && v.endsWith(p) ? v.slice(0, -p.length) : v;
    }
    case 'replace':
      need(args, 3, fn, s);
      return str(args[2] as Value)
        .split(str(args[0] as Value))
        .join(str(args[1] as Value));
    case 'quote':
      return args.map((a) => JSON.stringify(str(a))).join(' ');
    case 'squote':
      return args.map((a) => `'${str(a)}'`).join(' ');
    case 'toString':
      need(args, 1, fn, s);
      return str(args[0] as Value);
    case 'toJson':
      need(args, 1, fn, s);
      return JSON.stringify(args[0] ?? null);
    case 'fromJson':
      need(args, 1, fn, s);
      try {
        return JSON.parse(str(args[0] as Value)) as Value;
      } catch {
        throw new TemplateError(`${s.name}: fromJson: value is not JSON`);
      }
    case 'toYaml':
      need(args, 1, fn, s);
      return stringifyYaml(args[0] ?? null).trimEnd();
    case 'fromYaml':
      need(args, 1, fn, s);
      try {
        return parseYaml(str(args[0] as Value)) as Value;
      } catch {
        throw new TemplateError(`${s.name}: fromYaml: value is not YAML`);
      }
    case 'default':
      need(args, 2, fn, s);
      return truthy(args[1] as Value) ? (args[1] as Value) : (args[0] as Value);
    case 'indent':
    case 'nindent': {
      need(args, 2, fn, s);
      const pad = ' '.repeat(Math.min(Math.max(Number(args[0]) || 0, 0), 64));
      const text = str(args[1] as Value)
        .split('\n')
        .map((l) => pad + l)
        .join('\n');
      return fn === 'nindent' ? `\n${text}` : text;
    }
    case 'printf': {
      const [format, ...rest] = args;
      let k = 0;
      return str(format as Value).replace(/%[sdvq%]/g, (m) =>
        m === '%%' ? '%' : m === '%q' ? JSON.stringify(str(rest[k++] as Value)) : str(rest[k++] as Value),
      );
    }
    case 'contains':
      need(args, 2, fn, s);
      return str(args[1] as Value).includes(str(args[0] as Value));
    case 'hasPrefix':
      need(args, 2, fn, s);
      return str(args[1] as Value).startsWith(str(args[0] as Value));
    case 'hasSuffix':
      need(args, 2, fn, s);
      return str(args[1] as Value).endsWith(str(args[0] as Value));
    case 'join': {
      need(args, 2, fn, s);
      const list = args[1];
      return Array.isArray(list) ? list.map(str).join(str(args[0] as Value)) : str(list as Value);
    }
    case 'len': {
      need(args, 1, fn, s);
      const v = args[0];
      if (Array.isArray(v)) return v.length;
      if (v && typeof v === 'object') return Object.keys(v).length;
      return str(v as Value).length;
    }
    case 'index': {
      if (args.length < 2) throw new TemplateError(`${s.name}: index takes a value and keys`);
      let v = args[0] as Value;
      for (const k of args.slice(1)) v = Array.isArray(v) ? v[Number(k)] : own(v, str(k as Value));
      return v;
    }
    case 'eq':
      // As Go: `eq x a b …` is true when x equals any of the others.
      if (args.length < 2) throw new TemplateError(`${s.name}: eq takes at least 2 arguments`);
      return args.slice(1).some((a) => str(args[0] as Value) === str(a as Value));
    case 'ne':
      need(args, 2, fn, s);
      return str(args[0] as Value) !== str(args[1] as Value);
    case 'not':
      need(args, 1, fn, s);
      return !truthy(args[0] as Value);
    // As Go: `and` gives its first empty argument (else the last), `or` its first non-empty one.
    case 'and':
      if (args.length === 0) throw new TemplateError(`${s.name}: and takes arguments`);
      return args.find((a) => !truthy(a)) ?? (args[args.length - 1] as Value);
    case 'or':
      if (args.length === 0) throw new TemplateError(`${s.name}: or takes arguments`);
      return args.find((a) => truthy(a)) ?? (args[args.length - 1] as Value);
    // Sprig basics.
    case 'sha256sum':
    case 'sha1sum':
      need(args, 1, fn, s);
      return createHash(fn === 'sha256sum' ? 'sha256' : 'sha1')
        .update(str(args[0] as Value), 'utf8')
        .digest('hex');
    case 'empty':
      need(args, 1, fn, s);
      return !truthy(args[0] as Value);
    case 'coalesce':
      return args.find((a) => truthy(a)) ?? null;
    case 'ternary':
      need(args, 3, fn, s);
      return truthy(args[2] as Value) ? (args[0] as Value) : (args[1] as Value);
    case 'list':
      return [...args];
    case 'dict': {
      if (args.length % 2 !== 0) throw new TemplateError(`${s.name}: dict takes key/value pairs`);
      // fromEntries defines own properties: a "__proto__" key is data, never a prototype.
      const pairs: [string, Value][] = [];
      for (let i = 0; i < args.length; i += 2) pairs.push([str(args[i] as Value), args[i + 1] as Value]);
      return Object.fromEntries(pairs);
    }
    case 'hasKey':
      need(args, 2, fn, s);
      return own(args[0] as Value, str(args[1] as Value)) !== undefined;
    case 'get': {
      need(args, 2, fn, s);
      const v = own(args[0] as Value, str(args[1] as Value));
      return v === undefined ? '' : v;
    }
    case 'keys': {
      need(args, 1, fn, s);
      const m = args[0];
      return m && typeof m === 'object' && !Array.isArray(m) ? Object.keys(m).sort() : [];
    }
    case 'splitList':
      need(args, 2, fn, s);
      return str(args[1] as Value).split(str(args[0] as Value));
    case 'trimAll': {
      need(args, 2, fn, s);
      const cut = new Set(str(args[0] as Value));
      const chars = [...str(args[1] as Value)];
      let a = 0;
      let b = chars.length;
      while (a < b && cut.has(chars[a] as string)) a++;
      while (b > a && cut.has(chars[b - 1] as string)) b--;
      return chars.slice(a, b).join('');
    }
    case 'title':
      need(args, 1, fn, s);
      return str(args[0] as Value).replace(
        /(^|\s)(\S)/g,
        (_m, sp: string, c: string) => sp + c.toUpperCase(),
      );
    case 'substr': {
      need(args, 3, fn, s);
      const text = str(args[2] as Value);
      const start = Number(args[0]);
      const end = Number(args[1]);
      if (start < 0) return text.slice(0, end < 0 ? undefined : end);
      return end < 0 || end > text.length ? text.slice(start) : text.slice(start, end);
    }
    case 'repeat': {
      need(args, 2, fn, s);
      const text = str(args[1] as Value);
      const n = Math.max(0, Math.floor(Number(args[0]) || 0));
      if (text.length * n > MAX_OUTPUT) {
        throw new TemplateError(`${s.name}: output larger than ${MAX_OUTPUT} bytes`);
      }
      return text.repeat(n);
    }
    case 'nospace':
      need(args, 1, fn, s);
      return str(args[0] as Value).replace(/\s+/g, '');
    default:
      throw new TemplateError(`${s.name}: function "${fn}" is not supported`);
  }
}
